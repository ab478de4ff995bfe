"""The catalogue's use cases (医保目录): load a region's catalogue file as a new version from a
day, show an item's versions, and the compiled catalogue a region's settlements classify lines
against (cached until a load changes it).

Where a region's catalogue comes from (``policy.catalogue.region_chain``): the region, its
parents in the parameter files (a city's province), then the national 000000 one. For each
region of that chain the store's loads are used when it has any, else the file shipped with the
package for that region (the shipped national catalogue is illustrative); each code's versions
come from the nearest region that lists it (``merge_by_code``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from yibao.kernel.catalogue import compile_catalogue
from yibao.kernel.classify import CatalogueTable
from yibao.policy.catalogue import (
    CatalogueError,
    CatalogueItem,
    merge_by_code,
    parse_csv,
    read_catalogue,
    region_chain,
    shipped_file_items,
)
from yibao.store.repositories.catalogue import CatalogueLoad, CatalogueRepository
from yibao.store.uow import UnitOfWork

_REGION = re.compile(r"[0-9]{6}")
#: The days a catalogue version may start on.
FIRST_DAY = dt.date(1970, 1, 1)
LAST_DAY = dt.date(2999, 12, 31)


@dataclass(frozen=True)
class LoadResult:
    """What a load did: the version it recorded (or found already recorded)."""

    load: CatalogueLoad
    unchanged: bool  # the same file was already loaded for the same region and day
    ended_before: int  # rows of the file whose own valid_to is before the day: not loaded


def check_region(region: str, file: str = "<command>") -> str:
    if not _REGION.fullmatch(region):
        raise CatalogueError(file, None, "region", f"{region!r} is not a six-digit region code")
    return region


def load(uow: UnitOfWork, path: Path | str, region: str, on: dt.date) -> LoadResult:
    """Load a catalogue file as the region's version from ``on`` (all or nothing): items of the
    file start on ``on`` (or on their own later ``valid_from``), the region's versions that ran
    past it end the day before, and versions from ``on`` on are replaced. Loading the same file
    for the same region and day again changes nothing."""
    path = Path(path)
    check_region(region, str(path))
    if not FIRST_DAY <= on <= LAST_DAY:
        raise CatalogueError(str(path), None, "from", f"{on} is outside {FIRST_DAY} .. {LAST_DAY}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(str(path), None, "file", f"cannot read: {exc.strerror}") from exc
    items = (
        read_catalogue(path) if path.suffix.lower() == ".parquet" else parse_csv(data, str(path))
    )
    digest = hashlib.sha256(data).hexdigest()
    with uow:
        repo = CatalogueRepository(uow.session)
        loads = repo.loads(region)
        if loads and loads[-1].valid_from == on and loads[-1].sha256 == digest:
            return LoadResult(loads[-1], unchanged=True, ended_before=_ended(items, on))
        starting = [_starting(i, on) for i in items if i.valid_to is None or i.valid_to >= on]
        repo.supersede(region, on)
        done = repo.add_load(region, on, path.name, digest, starting)
        uow.commit()
    _cache.clear()
    return LoadResult(done, unchanged=False, ended_before=len(items) - len(starting))


def _ended(items: list[CatalogueItem], on: dt.date) -> int:
    return sum(1 for i in items if i.valid_to is not None and i.valid_to < on)


def _starting(item: CatalogueItem, on: dt.date) -> CatalogueItem:
    from dataclasses import replace

    start = max(on, item.valid_from) if item.valid_from else on
    return replace(item, valid_from=start)


def region_items(uow: UnitOfWork, region: str) -> list[CatalogueItem]:
    """The region's catalogue: the chain's stored or shipped catalogues merged by code."""
    check_region(region)
    repo = CatalogueRepository(uow.session)
    stored = {stamp[0] for stamp in repo.stamps(region_chain(region))}
    layers: list[list[CatalogueItem]] = []
    for code in region_chain(region):
        if code in stored:
            layers.append(repo.items(code))
        elif (shipped := shipped_file_items(code)) is not None:
            layers.append(list(shipped))
    return merge_by_code(layers)


def show(
    uow: UnitOfWork, code: str, region: str, on: dt.date | None = None
) -> tuple[str, list[CatalogueItem]]:
    """An item's versions in the region's catalogue (only the one in force ``on``, if given),
    and the region whose catalogue lists it (``shipped:<region>`` for a shipped file)."""
    check_region(region)
    with uow:
        repo = CatalogueRepository(uow.session)
        stored = {stamp[0] for stamp in repo.stamps(region_chain(region))}
        for source in region_chain(region):
            if source in stored:
                versions = repo.items(source, code)
                label = source
            elif (shipped := shipped_file_items(source)) is not None:
                versions = [i for i in shipped if i.code == code]
                label = f"shipped:{source}"
            else:
                continue
            if versions:
                return label, [v for v in versions if on is None or v.applies_on(on)]
    return "", []


_cache: dict[
    tuple[str, tuple[str, ...], tuple[tuple[str, int, str, str], ...]], CatalogueTable
] = {}
_lock = threading.Lock()


def compiled_regions() -> list[str]:
    """The regions of the chains of the catalogues compiled in this process (cached): those
    whose stamps a read of a batch of uploads takes with it (``FeeRepository.for_upload``)."""
    return sorted({r for key in list(_cache) for r in key[1]})


def catalogue_table(uow: UnitOfWork, region: str) -> CatalogueTable:
    """The region's compiled catalogue, for classifying lines (within an open unit of work).
    Compiled once per state of the store: a load (in any process) changes the loads' stamp and
    the next call compiles anew."""
    check_region(region)
    chain = tuple(region_chain(region))
    key = (region, chain, CatalogueRepository(uow.session).stamps(chain))
    found = _cache.get(key)
    if found is not None:
        return found
    table = compile_catalogue(region_items(uow, region))
    with _lock:
        for old in [k for k in _cache if k[0] == region]:
            del _cache[old]
        _cache[key] = table
    return table
