"""What the services share: finding a person, and the policy of a pooling area."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from yibao.domain.errors import NotFound
from yibao.domain.registry import Person
from yibao.policy import NATIONAL, Policy, UnknownRegion
from yibao.store.uow import UnitOfWork

PolicySource = Callable[[str], Policy]


@lru_cache(maxsize=256)
def policy_for(area: str) -> Policy:
    """The area's parameters; an area without its own file uses its province's, then the
    national defaults."""
    for code in (area, area[:2] + "0000", NATIONAL):
        try:
            return Policy(code)
        except UnknownRegion:
            continue
    raise NotFound("policy region", area)


def find_person(uow: UnitOfWork, who: str | int) -> Person:
    """By internal id (int) or national ID (str)."""
    if isinstance(who, int):
        return uow.persons.get(who)
    return uow.persons.require(who)
