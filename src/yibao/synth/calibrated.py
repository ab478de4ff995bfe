"""The calibrated benefits of a generated area (``calibrated.yaml``): a policy overlay on top
of the area's region, used wherever the area is settled.

``yibao synth`` records in ``meta.json`` which benefits the area is settled under
(``benefits``): ``calibrated`` (the default) puts the overlay on top of the region's
parameters, so that the area's inpatient fund payment ratios by institution level meet the NHSA
2023 bulletin's (docs/synthetic-data.md, Calibration); ``region`` settles it under the region's
parameters alone (the national defaults for a region without a file). An area whose
``meta.json`` has no ``benefits`` (generated before the overlay) is settled under its region's.
``area_policy`` is what every consumer builds its baseline from: ``yibao simulate``,
``yibao project``, the calibration table and ``yibao synth summary``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml

from yibao.policy import Policy
from yibao.policy.tree import Dated, flatten

CALIBRATED = "calibrated"
REGION = "region"
#: what ``--benefits`` accepts; the first is the default
BENEFITS = (CALIBRATED, REGION)
FILE = "calibrated.yaml"


class BenefitsError(ValueError):
    """An unknown ``benefits`` in a ``meta.json``, or a broken overlay file."""


@cache
def _document() -> dict[str, Any]:
    text = (resources.files("yibao.synth") / FILE).read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("policy"), dict):
        raise BenefitsError(f"{FILE}: must be a mapping with a policy tree")
    sources = {str(s["id"]): str(s.get("title", "")) for s in doc.get("sources") or []}
    for path, leaf in flatten(FILE, doc["policy"]).items():
        cited = [s for _, _, s in leaf.steps] if isinstance(leaf, Dated) else [leaf.source]
        for source in cited:
            if source is None or source not in sources:
                raise BenefitsError(f"{FILE}: {path}: every value cites a listed source")
    doc["sources"] = sources
    return doc


def calibrated_overlay() -> dict[str, Any]:
    """The overlay's policy tree (a fresh copy: the caller may keep it)."""
    return copy.deepcopy(_document()["policy"])


def calibrated_sources() -> dict[str, str]:
    """The overlay's sources, id → title."""
    return dict(_document()["sources"])


def benefits_of(meta: Mapping[str, Any]) -> str:
    """The benefits a generated area is settled under (``REGION`` when ``meta.json`` does not
    say); an unknown value is a ``BenefitsError``."""
    found = meta.get("benefits") or REGION
    if found not in BENEFITS:
        raise BenefitsError(f"meta.json: benefits: {found!r} is not one of {', '.join(BENEFITS)}")
    return str(found)


def area_overlays(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The overlays under the area's region parameters: the calibrated one, or none."""
    return [calibrated_overlay()] if benefits_of(meta) == CALIBRATED else []


def area_policy(
    region: str, meta: Mapping[str, Any], overlays: Iterable[dict[str, Any]] = ()
) -> Policy:
    """The policy an area is settled under: ``region``'s, the area's benefits on top, then
    ``overlays`` (a reform's) on top of those."""
    return Policy(region, overlays=[*area_overlays(meta), *overlays])
