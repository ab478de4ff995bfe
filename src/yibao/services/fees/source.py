"""Where the fee services get a region's compiled catalogue: ``services.catalogue`` (the
catalogue in the store, compiled once and cached). Looked up at call time, so a test or a tool
may put another source here."""

from __future__ import annotations

from collections.abc import Callable

from yibao.kernel.classify import CatalogueTable
from yibao.services.catalogue import catalogue_table
from yibao.store.uow import UnitOfWork

#: (unit of work, region code) -> the region's catalogue, every version of every item.
CatalogueSource = Callable[[UnitOfWork, str], CatalogueTable]


def catalogue_for(uow: UnitOfWork, region: str) -> CatalogueTable:
    """The region's catalogue (``services.catalogue.catalogue_table``)."""
    return catalogue_table(uow, region)


def source(given: CatalogueSource | None) -> CatalogueSource:
    """The catalogue source to use: the one given, else this module's ``catalogue_for``."""
    return given if given is not None else catalogue_for
