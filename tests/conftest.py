"""Shared helpers for the tests."""

from __future__ import annotations

from typing import Any

from yibao.calc.settle import settle_scenario


def settle(
    claims: list[dict[str, Any]],
    person: dict[str, Any] | None = None,
    policy: dict[str, Any] | None = None,
    region: str = "000000",
) -> list[dict[str, Any]]:
    """Settle one person's claims through the calculator; amounts come back as yuan strings."""
    doc = {
        "region": region,
        "policy": policy or {},
        "person": {"scheme": "resident", **(person or {})},
        "claims": claims,
    }
    return list(settle_scenario(doc)["settlements"])


def inpatient(
    total: float, level: int = 2, date: str = "2025-05-01", **parts: Any
) -> dict[str, Any]:
    return {"date": date, "med_type": "inpatient", "level": level, "total": total, **parts}
