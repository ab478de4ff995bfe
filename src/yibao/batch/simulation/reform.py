"""Reforms: a named policy overlay (the calculator's ``policy`` tree) read from YAML or JSON.

A reform file::

    name: resident subsidy +100 yuan
    policy:
      resident:
        contribution:
          fiscal_subsidy: 800

Every parameter the overlay sets must be one the region already has (an unknown path is a typo,
not a new rule), and the region with the overlay must keep the national floors
(``policy.floors``). Both are checked before any work starts; a bad reform is a
``ReformError`` naming the file, the field and the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from yibao.policy import ParameterError, Policy, UnknownRegion
from yibao.policy.tree import flatten


class ReformError(ValueError):
    """A bad reform: ``source: field: reason``."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        self.source = source
        self.field = field
        self.reason = reason
        super().__init__(f"{source}: {field}: {reason}")


@dataclass(frozen=True)
class Reform:
    name: str
    overlay: dict[str, Any] = field(default_factory=dict)
    source: str = "<reform>"


def known(path: str, leaves: set[str]) -> bool:
    """Whether a region has the parameter ``path``: a leaf, a key inside a leaf that holds a
    mapping, or a subtree of leaves (an overlay may set a whole dated subtree)."""
    if path in leaves:
        return True
    parts = path.split(".")
    if any(".".join(parts[:k]) in leaves for k in range(1, len(parts))):
        return True
    return any(leaf.startswith(path + ".") for leaf in leaves)


def check_reform(reform: Reform, region: str, under: Sequence[dict[str, Any]] = ()) -> Policy:
    """The region's policy (with the area's overlays ``under`` the reform, e.g. a generated area's
    calibrated benefits) with the reform on top, or a ``ReformError``: an unknown parameter, a
    value of the wrong kind, a broken national floor."""
    try:
        base = Policy(region)
    except UnknownRegion as exc:
        raise ReformError(reform.source, "region", f"unknown region {region!r}") from exc
    leaves = {p for layer in base.chain for p in layer.leaves}
    try:
        paths = flatten(reform.source, reform.overlay) if reform.overlay else {}
    except ParameterError as exc:
        raise ReformError(reform.source, f"policy.{exc.path}", exc.reason) from exc
    for path in sorted(paths):
        if not known(path, leaves):
            raise ReformError(reform.source, f"policy.{path}", "unknown parameter")
    try:
        return Policy(region, overlays=[*under, *([reform.overlay] if reform.overlay else [])])
    except ParameterError as exc:
        where = f"policy.{exc.path}" if exc.path else "policy"
        raise ReformError(reform.source, where, exc.reason) from exc


def parse_reform(doc: dict[str, Any], source: str, default_name: str) -> Reform:
    unknown = sorted(set(doc) - {"name", "policy", "description"})
    if unknown:
        raise ReformError(source, unknown[0], "unknown key; a reform has name and policy")
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise ReformError(source, "name", "must be a non-empty text")
    if len(name) > 100 or not name.isprintable():
        raise ReformError(source, "name", "at most 100 printable characters")
    overlay = doc.get("policy")
    if overlay is None:
        overlay = {}
    if not isinstance(overlay, dict):
        raise ReformError(source, "policy", "must be a mapping of parameters")
    return Reform(name.strip(), overlay, source)


def read_reform(path: str | Path) -> Reform:
    """A reform file (YAML or JSON); its name defaults to the file's stem."""
    source = str(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReformError(source, "reform", f"cannot read: {exc.strerror}") from exc
    try:
        doc = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise ReformError(source, "reform", "neither YAML nor JSON") from exc
    if not isinstance(doc, dict):
        raise ReformError(source, "reform", "must be a mapping with name and policy")
    return parse_reform(doc, source, Path(source).stem)


def load_reforms(
    paths: list[str] | list[Path], region: str, under: Sequence[dict[str, Any]] = ()
) -> list[tuple[Reform, Policy]]:
    """Every reform read and checked against ``region`` with the area's overlays ``under`` it
    (the first bad one raises); names must be distinct."""
    out: list[tuple[Reform, Policy]] = []
    seen: set[str] = set()
    for p in paths:
        reform = read_reform(p)
        if reform.name in seen:
            raise ReformError(reform.source, "name", f"{reform.name!r} is used by another reform")
        seen.add(reform.name)
        out.append((reform, check_reform(reform, region, under)))
    return out
