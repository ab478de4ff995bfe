"""Shared helpers for the tests."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

from yibao.calc.settle import settle_scenario

# Property tests must not fail on a slow or busy machine: no per-example deadline, no health
# check on the speed of generating data. Seeds stay random (a fresh clone has no example
# database); a failure prints the blob to reproduce it.
settings.register_profile(
    "yibao", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("yibao")


def calc_settle(
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
