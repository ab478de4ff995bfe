"""Parameter files: reading, flattening and typing the leaves of a parameter tree.

A leaf is a number, string, boolean, list (of bands or tiers), a relative value
``{of: PATH, ratio: R}``, a sourced value ``{value: V, source: ID}``, or a map of ISO
dates to such values (a ``null`` dated value ends the parameter).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from yibao.policy.errors import ParameterError
from yibao.policy.values import check_multiplier, check_value

RawValue = Any


@dataclass(frozen=True)
class Dated:
    """A value that changes over time: sorted (date, value or None, source) triples."""

    steps: tuple[tuple[dt.date, RawValue, str | None], ...]

    def at(self, on: dt.date) -> tuple[bool, RawValue, str | None]:
        """(found, value, source) in force on ``on``; found is False before the first date."""
        found: tuple[bool, RawValue, str | None] = (False, None, None)
        for when, value, source in self.steps:
            if when > on:
                break
            found = (True, value, source)
        return found


@dataclass(frozen=True)
class Plain:
    value: RawValue
    source: str | None = None


Leaf = Dated | Plain


@dataclass
class Layer:
    """One parameter file (or overlay), flattened: dotted path -> leaf."""

    file: str
    region: str
    name: str = ""
    parent: str | None = None
    sources: dict[str, str] = field(default_factory=dict)
    leaves: dict[str, Leaf] = field(default_factory=dict)

    def dates(self) -> set[dt.date]:
        return {
            d for leaf in self.leaves.values() if isinstance(leaf, Dated) for d, _, _ in leaf.steps
        }


def _is_date_key(key: object) -> bool:
    if isinstance(key, dt.date):
        return True
    if isinstance(key, str):
        try:
            dt.date.fromisoformat(key)
        except ValueError:
            return False
        return True
    return False


def _as_date(key: object) -> dt.date:
    if isinstance(key, dt.datetime):
        return key.date()
    if isinstance(key, dt.date):
        return key
    return dt.date.fromisoformat(str(key))


def _split_sourced(file: str, path: str, value: RawValue) -> tuple[RawValue, str | None]:
    if isinstance(value, dict) and "value" in value and set(value) <= {"value", "source"}:
        return value["value"], (str(value["source"]) if value.get("source") else None)
    return value, None


def _check_raw(file: str, path: str, value: RawValue) -> None:
    """Leaf values must be numbers, strings, booleans, lists, relative values or None, and
    amounts, rates and factors what their names say (``values.check_value``)."""
    if value is None or isinstance(value, bool | int | float | str | Decimal):
        check_value(file, path, value)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                for k, v in item.items():
                    _check_raw(file, f"{path}[{i}].{k}", v)
            else:
                _check_raw(file, f"{path}[{i}]", item)
        return
    if isinstance(value, dict) and set(value) == {"of", "ratio"}:
        if not isinstance(value["of"], str):
            raise ParameterError(file, path, "'of' must name a parameter path")
        check_multiplier(file, path, value["ratio"])
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _check_raw(file, f"{path}.{k}", v)
        return
    raise ParameterError(file, path, f"wrong type {type(value).__name__}")


def flatten(file: str, tree: Any, prefix: str = "") -> dict[str, Leaf]:
    """Flatten a ``parameters`` tree into dotted paths and leaves."""
    if not isinstance(tree, dict):
        raise ParameterError(file, prefix or "parameters", "must be a mapping")
    out: dict[str, Leaf] = {}
    for key, node in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(node, dict) and node and all(_is_date_key(k) for k in node):
            steps = []
            for when, raw in node.items():
                value, source = _split_sourced(file, path, raw)
                _check_raw(file, f"{path}@{_as_date(when).isoformat()}", value)
                steps.append((_as_date(when), value, source))
            steps.sort(key=lambda s: s[0])
            out[path] = Dated(tuple(steps))
        elif (
            isinstance(node, dict)
            and node
            and (
                set(node) == {"of", "ratio"}
                or ("value" in node and set(node) <= {"value", "source"})
            )
        ):
            value, source = _split_sourced(file, path, node)
            _check_raw(file, path, value)
            out[path] = Plain(value, source)
        elif isinstance(node, dict):
            if not node:
                raise ParameterError(file, path, "empty mapping")
            out.update(flatten(file, node, path))
        else:
            _check_raw(file, path, node)
            out[path] = Plain(node)
    return out


def read_layer(path: Path) -> Layer:
    """Read one region file; errors name the file, the path and the reason."""
    file = str(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParameterError(file, "", f"not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ParameterError(file, "", "a parameter file must be a mapping")
    for key in ("region", "parameters"):
        if key not in doc:
            raise ParameterError(file, key, "missing")
    region = str(doc["region"])
    if len(region) != 6 or not region.isdigit():
        raise ParameterError(file, "region", f"{region!r} is not a 6-digit division code")
    parent = doc.get("parent")
    if region != "000000" and parent is None:
        parent = "000000"
    sources = {
        str(s["id"]): str(s.get("title", ""))
        for s in doc.get("sources") or []
        if isinstance(s, dict) and "id" in s
    }
    layer = Layer(
        file=file,
        region=region,
        name=str(doc.get("name", "")),
        parent=str(parent) if parent is not None else None,
        sources=sources,
        leaves=flatten(file, doc["parameters"]),
    )
    for path_, leaf in layer.leaves.items():
        cited = [s for _, _, s in leaf.steps] if isinstance(leaf, Dated) else [leaf.source]
        for source in cited:
            if source is not None and source not in sources:
                raise ParameterError(file, path_, f"source {source!r} is not listed in sources")
    return layer


def overlay_layer(tree: Any, region: str, name: str = "<policy overlay>") -> Layer:
    """A scenario's overlay: a tree of the same shape as a file's ``parameters``."""
    return Layer(file=name, region=region, leaves=flatten(name, tree or {}) if tree else {})
