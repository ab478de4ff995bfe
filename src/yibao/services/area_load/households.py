"""The registry rows of a part's households (pure): close relations both ways
(``domain.registry.both_ways``) and special groups."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from yibao.domain.registry import GroupKind, RelationKind, both_ways, newborn_until
from yibao.services.area_load import generated as gen
from yibao.services.area_load.read import GeneratedPerson

Row = tuple[Any, ...]


def relations(people: Sequence[GeneratedPerson], person_ids: dict[int, int]) -> list[Row]:
    """(person_id, relative_id, kind) of the close relations a household implies, both ways:
    the head and each member (as ``relation`` says), the head's spouse and the head's children
    and grandchildren, the head's children among themselves (siblings). ``person_ids`` maps
    ``psn_no`` to the registered person (a person not registered has no relations)."""
    households: dict[int, list[GeneratedPerson]] = {}
    for p in people:
        households.setdefault(p.household_id, []).append(p)
    out: list[Row] = []

    def add(a: int | None, b: int | None, kind: RelationKind) -> None:
        if a is not None and b is not None:
            out.extend((r.person_id, r.relative_id, str(r.kind)) for r in both_ways(a, b, kind))

    for head_psn, members in households.items():
        head = person_ids.get(head_psn)
        spouses = [person_ids.get(m.psn_no) for m in members if m.relation == "spouse"]
        children = [m for m in members if m.relation == "child"]
        for m in members:
            if m.relation == "head":
                continue
            kind = RelationKind(m.relation)
            add(head, person_ids.get(m.psn_no), kind)
            if kind in (RelationKind.CHILD, RelationKind.GRANDCHILD):
                for spouse in spouses:
                    add(spouse, person_ids.get(m.psn_no), kind)
        for i, a in enumerate(children):
            for b in children[i + 1 :]:
                add(person_ids.get(a.psn_no), person_ids.get(b.psn_no), RelationKind.SIBLING)
    return out


def groups(p: GeneratedPerson, person_id: int, year: int) -> Iterator[Row]:
    """(person_id, kind, valid_from, valid_to): a newborn from birth to the day before the
    first birthday, a student for the calendar year, an aid class (``generated.aid_from``)."""
    marks = p.groups or []
    if GroupKind.NEWBORN in marks:
        until = newborn_until(p.birth_date)
        yield (person_id, GroupKind.NEWBORN.value, p.birth_date.isoformat(), until.isoformat())
    if GroupKind.STUDENT in marks:
        first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        yield (person_id, GroupKind.STUDENT.value, first.isoformat(), last.isoformat())
    if p.assistance_class:
        aid = GroupKind(p.assistance_class)
        yield (person_id, aid.value, gen.aid_from(p.birth_date, year).isoformat(), None)
