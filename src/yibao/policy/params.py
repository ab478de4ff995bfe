"""Dated, per-region policy parameters (政策参数): lookup by (region, date, path).

Inheritance walks overlays → region → parent → "000000". Amounts (yuan in files) come out
as integer fen, rates as exact ``Decimal``, counts as ``int``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from yibao.policy.errors import ParameterError, UnknownRegion
from yibao.policy.tree import Layer, Plain, overlay_layer, read_layer

NATIONAL = "000000"

#: A numeric leaf is an amount of money (yuan in files, fen inside) when a segment of its
#: path is one of these names.
MONEY_KEYS = frozenset(
    {
        "average_wage",
        "resident_disposable_income",
        "average_pension",
        "retiree_monthly",
        "base_floor",
        "base_ceiling",
        "individual",
        "fiscal_subsidy",
        "amount",
        "deductible",
        "annual_deductible",
        "annual_cap",
        "cap",
        "upto",
        "per_capita",
        "per_month",
        "per_recipient",
        "area_amount",
    }
)


def is_money(path: str) -> bool:
    parts = path.replace("[", ".").replace("]", "").split(".")
    return any(p in MONEY_KEYS for p in parts)


def yuan_to_fen(value: Decimal | int | float | str) -> int:
    """Yuan to integer fen, half up."""
    return int((Decimal(str(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fen_to_yuan(fen: int) -> str:
    """Integer fen as a decimal string with two places ("34790.00")."""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def default_folder() -> Path:
    return Path(str(resources.files("yibao.policy") / "regions"))


@cache
def _read_cached(path: str, mtime: float) -> Layer:
    return read_layer(Path(path))


def load_layer(folder: Path, region: str) -> Layer:
    path = folder / f"{region}.yaml"
    if not path.exists():
        raise UnknownRegion(region, str(folder))
    layer = _read_cached(str(path), path.stat().st_mtime)
    if layer.region != region:
        raise ParameterError(str(path), "region", f"file is named {region} but says {layer.region}")
    return layer


def available_regions(folder: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (folder or default_folder()).glob("*.yaml"))


class Policy:
    """The parameters of one region, with optional overlays on top."""

    def __init__(
        self,
        region: str = NATIONAL,
        overlays: Iterable[Any] = (),
        folder: Path | None = None,
    ) -> None:
        self.folder = folder or default_folder()
        self.region = str(region)
        chain: list[Layer] = []
        seen: set[str] = set()
        code: str | None = self.region
        while code is not None:
            if code in seen:
                raise ParameterError(str(self.folder), "parent", f"inheritance cycle at {code}")
            seen.add(code)
            layer = load_layer(self.folder, code)
            chain.append(layer)
            code = layer.parent if code != NATIONAL else None
        self.chain = chain
        self.layers: list[Layer] = [
            overlay_layer(tree, self.region) for tree in reversed(list(overlays)) if tree
        ] + chain
        self._cache: dict[tuple[str, dt.date], Any] = {}
        from yibao.policy.floors import check_floors

        check_floors(self)

    @property
    def name(self) -> str:
        return self.chain[0].name

    def sources(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for layer in reversed(self.chain):
            out.update(layer.sources)
        return out

    def dates(self) -> list[dt.date]:
        """Every date at which some value changes, in order."""
        return sorted(set().union(*(layer.dates() for layer in self.layers)))

    def _leaf(self, path: str, on: dt.date) -> tuple[Layer, Any] | None:
        for layer in self.layers:
            leaf = layer.leaves.get(path)
            if leaf is None:
                continue
            if isinstance(leaf, Plain):
                return layer, leaf.value
            found, value, _ = leaf.at(on)
            if found:
                if value is None:
                    raise ParameterError(layer.file, path, f"ended before {on.isoformat()}")
                return layer, value
        return None

    def has(self, path: str, on: dt.date) -> bool:
        try:
            return self._leaf(path, on) is not None or bool(self.paths_under(path))
        except ParameterError:
            return False

    def source_file(self, path: str, on: dt.date) -> str:
        hit = self._leaf(path, on)
        return hit[0].file if hit else str(self.folder)

    def get(self, path: str, on: dt.date) -> Any:
        """The typed value of a leaf on a date (fen for amounts, Decimal for rates)."""
        key = (path, on)
        if key in self._cache:
            return self._cache[key]
        hit = self._leaf(path, on)
        if hit is None:
            if self.paths_under(path):
                value = self.subtree(path, on)
                self._cache[key] = value
                return value
            raise ParameterError(
                self.layers[0].file, path, f"unknown parameter (no value on {on.isoformat()})"
            )
        layer, raw = hit
        value = self._typed(layer.file, path, raw, on)
        self._cache[key] = value
        return value

    def get_or(self, path: str, on: dt.date, default: Any) -> Any:
        return self.get(path, on) if self.has(path, on) else default

    def paths_under(self, prefix: str) -> list[str]:
        dotted = prefix + "."
        return sorted({p for layer in self.layers for p in layer.leaves if p.startswith(dotted)})

    def subtree(self, prefix: str, on: dt.date) -> dict[str, Any]:
        """All leaves under ``prefix`` as a nested dict of typed values."""
        out: dict[str, Any] = {}
        for path in self.paths_under(prefix):
            if self._leaf(path, on) is None:
                continue
            node = out
            parts = path[len(prefix) + 1 :].split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = self.get(path, on)
        return out

    def _typed(self, file: str, path: str, raw: Any, on: dt.date) -> Any:
        if isinstance(raw, bool | str):
            return raw
        if isinstance(raw, dict) and set(raw) == {"of", "ratio"}:
            target = str(raw["of"])
            if target == path:
                raise ParameterError(file, path, "refers to itself")
            base = self.get(target, on)
            if isinstance(base, bool) or not isinstance(base, int | Decimal):
                raise ParameterError(file, path, f"'of' {target} is not a number")
            product = Decimal(base) * Decimal(str(raw["ratio"]))
            if is_money(target):
                return int(product.quantize(Decimal(1), rounding=ROUND_HALF_UP))
            return product
        if isinstance(raw, int | float | Decimal):
            if is_money(path):
                return yuan_to_fen(raw)
            return raw if isinstance(raw, int) else Decimal(str(raw))
        if isinstance(raw, list):
            return [self._typed(file, f"{path}[{i}]", item, on) for i, item in enumerate(raw)]
        if isinstance(raw, dict):
            return {k: self._typed(file, f"{path}.{k}", v, on) for k, v in raw.items()}
        if raw is None:
            return None
        raise ParameterError(file, path, f"wrong type {type(raw).__name__}")
