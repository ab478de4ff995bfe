"""What the services share: finding a person, and the policy of a pooling area."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from yibao.domain.errors import NotFound
from yibao.domain.ids import NotStored
from yibao.domain.registry import Person
from yibao.policy import NATIONAL, Policy, UnknownRegion, policy_dir
from yibao.store.uow import UnitOfWork

PolicySource = Callable[[str], Policy]


def policy_for(area: str) -> Policy:
    """The area's parameters; an area without its own file uses its province's, then the
    national defaults. Files come from the bureau's folder in use (``--policy-dir``,
    ``$YIBAO_POLICY_DIR``) before the shipped ones."""
    return _policy_for(area, policy_dir())


@lru_cache(maxsize=256)
def _policy_for(area: str, folder: Path | None) -> Policy:
    for code in (area, area[:2] + "0000", NATIONAL):
        try:
            return Policy(code, folder=folder)
        except UnknownRegion:
            continue
    raise NotFound("policy region", area)


def find_person(uow: UnitOfWork, who: str | int) -> Person:
    """By internal id (int) or national ID (str)."""
    if isinstance(who, int):
        return uow.persons.get(who)
    return uow.persons.require(who)


def stored_person(uow: UnitOfWork, who: str | int) -> tuple[Person, int]:
    """``find_person`` with its stored id."""
    person = find_person(uow, who)
    if person.id is None:
        raise NotStored("person")
    return person, person.id
