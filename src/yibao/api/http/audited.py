"""A staff action on a person's records over the API, audited: the role checked, the call run
on a unit of work, its outcome written to the audit log with the person it concerns (the
chronic-disease certifications' and the 惠民保 purchases' routes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from fastapi import Query

from yibao.api.http import audit, inputs
from yibao.api.http.routes import _deny as deny
from yibao.api.http.tx import refusal
from yibao.domain.masking import mask_ids_deep
from yibao.services.common import stored_person
from yibao.store.repositories.api import AuditEntry
from yibao.store.uow import UnitOfWork

#: A person's national ID or person number, as a query parameter.
PERSON = Query(min_length=1, max_length=40, description="national ID or person number")


class PersonRecords(NamedTuple):
    """A person's records read, and whose (for the audit)."""

    person_id: int
    found: list[Any]


def person_records(
    person: str, listing: Callable[[UnitOfWork, int], list[Any]]
) -> Callable[[UnitOfWork], PersonRecords]:
    """A read of the records ``listing`` gives of the person named (national ID or person
    number), as ``run`` takes it."""

    def read(uow: UnitOfWork) -> PersonRecords:
        with uow:
            _, person_id = stored_person(uow, inputs.person_named(person))
        return PersonRecords(person_id, listing(uow, person_id))

    return read


def run(
    state: Any,
    who: Any,
    action: str,
    target: str,
    call: Callable[[UnitOfWork], Any],
    record: tuple[type, str],
) -> Any:
    """``call`` on a unit of work, audited: a refusal answers with its error, an unexpected
    error propagates. The audit names the person the result concerns (its ``person_id``) and
    targets the record made or changed (an instance of ``record[0]``: ``<record[1]>:<id>``),
    else the person, else ``target``."""
    deny(state, who, action)
    try:
        made = call(UnitOfWork.for_engine(state.engine))
    except Exception as exc:
        err = refusal(who, exc)
        if err is None:
            raise
        entry = AuditEntry(who.actor, who.role.value, action, "refused", detail=err.message)
        audit.write(state.engine, [entry])
        raise err from None
    person_id: int | None = getattr(made, "person_id", None)  # a person's record read or changed
    kind, prefix = record
    if isinstance(made, kind):
        target = f"{prefix}:{made.id}"  # type: ignore[attr-defined]
    elif person_id is not None:
        target = f"person:{person_id}"
    entry = AuditEntry(who.actor, who.role.value, action, "ok", person_id=person_id, target=target)
    audit.write(state.engine, [entry])
    return made


def answer(who: Any, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as the caller may see it (national IDs masked unless it sees identities)."""
    return data if who.sees_identity(None) else mask_ids_deep(data)
