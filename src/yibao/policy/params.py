"""Dated, per-region policy parameters (政策参数): lookup by (region, date, path).

Inheritance walks overlays → region → parent → "000000". Amounts (yuan in files) come out
as integer fen, rates as exact ``Decimal``, counts as ``int``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from yibao.policy.errors import ParameterError, UnknownRegion
from yibao.policy.tree import Dated, Layer, Plain, overlay_layer, read_layer
from yibao.policy.values import MONEY_KEYS as MONEY_KEYS
from yibao.policy.values import is_money

NATIONAL = "000000"


def yuan_to_fen(value: Decimal | int | float | str) -> int:
    """Yuan to integer fen, half up."""
    return int((Decimal(str(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


#: ".00" to ".99": the cents of ``fen_to_yuan`` (an integer's ``str`` and a concatenation are
#: faster than a format with a width).
_CENTS = tuple(f".{c:02d}" for c in range(100))


def fen_to_yuan(fen: int) -> str:
    """Integer fen as a decimal string with two places ("34790.00")."""
    if type(fen) is int and fen >= 0:  # the common case
        return str(fen // 100) + _CENTS[fen % 100]
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


#: A bureau's own folder of parameter files, searched before the shipped ones.
POLICY_DIR_ENV = "YIBAO_POLICY_DIR"
_UNSET = object()
_policy_dir: object = _UNSET


def default_folder() -> Path:
    """The parameter files shipped with the package."""
    return Path(str(resources.files("yibao.policy") / "regions"))


def policy_dir() -> Path | None:
    """The bureau's folder in use: set by ``use_policy_dir`` / ``set_policy_dir`` (the
    ``--policy-dir`` option, the server's settings), else ``$YIBAO_POLICY_DIR``, else None."""
    if _policy_dir is not _UNSET:
        return _policy_dir if isinstance(_policy_dir, Path) else None
    env = os.environ.get(POLICY_DIR_ENV)
    return _env_path(env) if env else None


@lru_cache(maxsize=8)
def _env_path(env: str) -> Path:
    """The folder named by ``$YIBAO_POLICY_DIR``, one ``Path`` per value: asked for by every
    request (``services.common.policy_for``, the catalogue's region chain), a new ``Path``
    each time would be parsed and hashed again."""
    return Path(env)


def set_policy_dir(folder: Path | str | None) -> None:
    """Use ``folder`` for the rest of the process (None: the shipped files only)."""
    global _policy_dir
    _policy_dir = Path(folder) if folder is not None else None


@contextmanager
def use_policy_dir(folder: Path | str | None) -> Iterator[None]:
    """Use ``folder`` (None: leave the setting as it is) within the block."""
    global _policy_dir
    before = _policy_dir
    if folder is not None:
        _policy_dir = Path(folder)
    try:
        yield
    finally:
        _policy_dir = before


def check_policy_dir(folder: Path | str) -> list[str]:
    """Load every region file of a bureau's folder (with the shipped files under it); the
    codes, or the first ParameterError (the file, the parameter path, the reason)."""
    path = Path(folder)
    if not path.is_dir():
        raise ParameterError(str(path), "", "not a folder of parameter files")
    codes = sorted(p.stem for p in path.glob("*.yaml"))
    for code in codes:
        Policy(code, folder=path)
    return codes


@cache
def _read_cached(path: str, mtime: float) -> Layer:
    return read_layer(Path(path))


def load_layer(folder: Path | Sequence[Path], region: str) -> Layer:
    """The region's file from the first folder that has it."""
    folders = [folder] if isinstance(folder, Path) else list(folder)
    for where in folders:
        path = where / f"{region}.yaml"
        if path.exists():
            break
    else:
        raise UnknownRegion(region, ", ".join(str(f) for f in folders))
    layer = _read_cached(str(path), path.stat().st_mtime)
    if layer.region != region:
        raise ParameterError(str(path), "region", f"file is named {region} but says {layer.region}")
    return layer


def available_regions(folder: Path | None = None) -> list[str]:
    """The regions of ``folder`` (default: the folder in use, ``policy_dir``) and the shipped."""
    mine = folder or policy_dir()
    folders = [default_folder()] + ([mine] if mine else [])
    return sorted({p.stem for f in folders for p in f.glob("*.yaml")})


class Policy:
    """The parameters of one region, with optional overlays on top."""

    def __init__(
        self,
        region: str = NATIONAL,
        overlays: Iterable[Any] = (),
        folder: Path | None = None,
    ) -> None:
        mine = folder if folder is not None else policy_dir()
        #: searched in order: the bureau's folder (``folder`` or ``policy_dir()``), the shipped
        self.folders = [Path(mine), default_folder()] if mine else [default_folder()]
        self.folder = self.folders[0]
        self.region = str(region)
        chain: list[Layer] = []
        seen: set[str] = set()
        code: str | None = self.region
        while code is not None:
            if code in seen:
                raise ParameterError(str(self.folder), "parent", f"inheritance cycle at {code}")
            seen.add(code)
            layer = load_layer(self.folders, code)
            chain.append(layer)
            code = layer.parent if code != NATIONAL else None
        self.chain = chain
        self.layers: list[Layer] = [
            overlay_layer(tree, self.region) for tree in reversed(list(overlays)) if tree
        ] + chain
        self._cache: dict[tuple[str, dt.date], Any] = {}
        self._under: dict[str, tuple[str, ...]] = {}  # paths_under, per prefix
        from yibao.policy.benefits import check_cap_groups
        from yibao.policy.floors import check_floors

        check_floors(self)
        check_cap_groups(self)

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

    def declares(self, path: str, on: dt.date) -> bool:
        """Whether some layer gives the leaf ``path`` a value on ``on`` (not ended)."""
        try:
            return self._leaf(path, on) is not None
        except ParameterError:
            return False

    def begins(self) -> dt.date | None:
        """The first date on which every parameter has a value: the latest first date of the
        parameters that are only given dated (None: some value at every date)."""
        first: dict[str, dt.date | None] = {}
        for layer in self.layers:
            for path, leaf in layer.leaves.items():
                start = leaf.steps[0][0] if isinstance(leaf, Dated) and leaf.steps else None
                if path not in first:
                    first[path] = start
                elif first[path] is not None:
                    earlier = first[path]
                    first[path] = None if start is None or earlier is None else min(earlier, start)
        dates = [d for d in first.values() if d is not None]
        return max(dates) if dates else None

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

    # Typed accessors: each names what the leaf must be and says so when it is not.

    def fen(self, path: str, on: dt.date) -> int:
        """An amount (金额) in integer fen."""
        value = self.get(path, on)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(path, on, "an amount", value)
        return value

    def count(self, path: str, on: dt.date, default: int | None = None) -> int:
        """A whole number (years, months, days, a count)."""
        if default is not None and not self.has(path, on):
            return default
        value = self.get(path, on)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(path, on, "a whole number", value)
        return value

    def rate(self, path: str, on: dt.date) -> Decimal:
        """A rate or ratio (比例) as an exact decimal."""
        value = self.get(path, on)
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise self._wrong(path, on, "a rate", value)
        return Decimal(value)

    def flag(self, path: str, on: dt.date, default: bool | None = None) -> bool:
        """A yes/no switch."""
        if default is not None and not self.has(path, on):
            return default
        value = self.get(path, on)
        if not isinstance(value, bool):
            raise self._wrong(path, on, "true or false", value)
        return value

    def text(self, path: str, on: dt.date, default: str | None = None) -> str:
        """A word from a fixed set (a basis, a group name)."""
        if default is not None and not self.has(path, on):
            return default
        value = self.get(path, on)
        if not isinstance(value, str):
            raise self._wrong(path, on, "a word", value)
        return value

    def node(self, path: str, on: dt.date) -> dict[str, Any]:
        """A subtree of typed values (a benefit, a class table)."""
        value = self.get(path, on)
        if not isinstance(value, dict):
            raise self._wrong(path, on, "a group of parameters", value)
        return value

    def _wrong(self, path: str, on: dt.date, expected: str, value: object) -> ParameterError:
        return ParameterError(
            self.source_file(path, on), path, f"expected {expected}, got {value!r}"
        )

    def paths_under(self, prefix: str) -> list[str]:
        """The leaves' paths under ``prefix``, sorted (found once per prefix: the layers do not
        change)."""
        found = self._under.get(prefix)
        if found is None:
            dotted = prefix + "."
            found = self._under[prefix] = tuple(
                sorted({p for layer in self.layers for p in layer.leaves if p.startswith(dotted)})
            )
        return list(found)

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
