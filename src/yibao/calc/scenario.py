"""Reading and checking calculator scenarios: every error names the field and the reason."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from yibao.policy import NATIONAL, ParameterError, Policy, UnknownRegion
from yibao.policy.dates import DateError, parse_date
from yibao.policy.money import AmountError, parse_yuan


class ScenarioError(ValueError):
    """A bad scenario: ``field: reason``."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def read_scenario(source: str) -> dict[str, Any]:
    """A scenario from a path, or ``-`` for standard input (YAML or JSON)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError("scenario", f"cannot read {source}: {exc.strerror}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError("scenario", "neither YAML nor JSON") from exc
    if not isinstance(doc, dict):
        raise ScenarioError("scenario", "must be a mapping")
    return doc


def load_policy(doc: dict[str, Any]) -> Policy:
    region = str(doc.get("region") or NATIONAL)
    overlay = doc.get("policy") or {}
    if not isinstance(overlay, dict):
        raise ScenarioError("policy", "must be a mapping of parameters")
    try:
        return Policy(region, overlays=[overlay] if overlay else [])
    except UnknownRegion as exc:
        raise ScenarioError("region", f"unknown region {region!r}") from exc
    except ParameterError as exc:
        raise policy_error(exc) from exc


def policy_error(exc: ParameterError) -> ScenarioError:
    """A parameter error as a scenario error: ``policy.PATH`` for the scenario's overlay, else
    the file and the path (a region file, shipped or from --policy-dir)."""
    if exc.file.startswith("<"):
        return ScenarioError(f"policy.{exc.path}" if exc.path else "policy", exc.reason)
    return ScenarioError(f"{exc.file}: {exc.path}" if exc.path else exc.file, exc.reason)


def check_begun(policy: Policy, on: dt.date, field: str) -> None:
    """Refuse a date before the parameters of the region begin (``Policy.begins``)."""
    begins = policy.begins()
    if begins is not None and on < begins:
        raise ScenarioError(
            field, f"{on} is before the parameters of region {policy.region} begin ({begins})"
        )


def amount(value: Any, field: str, *, allow_none: bool = False) -> int:
    """Yuan (number or string, at most 2 decimals, not negative, not above the bound of
    ``policy.money``) to integer fen."""
    if value is None:
        if allow_none:
            return 0
        raise ScenarioError(field, "missing")
    try:
        return parse_yuan(value, field)
    except AmountError as exc:
        raise ScenarioError(exc.field, exc.reason) from exc


def date(value: Any, field: str) -> dt.date:
    """A date (``policy.dates.parse_date``)."""
    try:
        return parse_date(value, field)
    except DateError as exc:
        raise ScenarioError(exc.field, exc.reason) from exc


def choice(
    value: Any, field: str, allowed: tuple[str, ...], *, nullable: bool = False
) -> str | None:
    if value is None and nullable:
        return None
    if value is None:
        raise ScenarioError(field, f"missing; one of {', '.join(allowed)}")
    if str(value) not in allowed:
        raise ScenarioError(field, f"unknown value {value!r}; expected one of {', '.join(allowed)}")
    return str(value)


def mapping(doc: dict[str, Any], key: str, field: str | None = None) -> dict[str, Any]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScenarioError(field or key, "must be a mapping")
    return value
