"""Major epidemics (重大疫情, treat first and charge later): a bureau declares one for an area and
period (stored, audited) and ends it; while it is in force, the claims it covers are settled
exempt from the catalogue, dosage limits and the insurance's payment limits (``rules.epidemics``,
applied by ``services.settlement``) and marked; the fund advances money to an institution before
settlement and clears the advance afterwards, on the ledger (``domain.epidemics``); the report
lists every settlement an epidemic covered.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from yibao.domain.clearing import CLEARED_AMOUNTS
from yibao.domain.epidemics import (
    ADVANCE_CLEARING_KIND,
    ADVANCE_KIND,
    Epidemic,
    advance_postings,
    advance_reference,
    clearing_postings,
    clearing_reference,
    listed,
)
from yibao.domain.errors import AlreadyExists, InvalidField, NotFound, SettlementRefused
from yibao.domain.ledger import AccountKind, LedgerTransaction
from yibao.domain.text import check_identifier
from yibao.kernel.tables import without_caps
from yibao.policy import fen_to_yuan
from yibao.rules.epidemics import EpidemicTerms, covering, exempt_amounts
from yibao.services import clock
from yibao.services.person_file import groups_on
from yibao.store import epidemics as store
from yibao.store.models import AccountRow, LedgerTransactionRow, PostingRow
from yibao.store.repositories import ApiRepository, AuditEntry
from yibao.store.uow import UnitOfWork

CLI_ACTOR = "cli"
REASON = "重大疫情: exempt from the catalogue, dosage limits and the payment limits"


def declare(
    uow: UnitOfWork,
    area: str,
    name: str,
    starts_on: dt.date,
    diseases: Iterable[str] = (),
    groups: Iterable[str] = (),
    ends_on: dt.date | None = None,
    *,
    actor: str = CLI_ACTOR,
    role: str = "administrator",
) -> Epidemic:
    """Declare an epidemic for ``area`` from ``starts_on`` (not after today) to ``ends_on``
    (None: until ended), covering the listed diseases (ICD-10 codes or their starts) and special
    groups; stored with an audit entry in the same transaction."""
    today = clock.today()
    if starts_on > today:
        raise InvalidField("starts_on", f"is after today ({today.isoformat()})", starts_on)
    e = Epidemic(
        area, name.strip() if isinstance(name, str) else name, starts_on, ends_on,
        listed(diseases), tuple(dict.fromkeys(groups)), actor,
    )  # fmt: skip
    with uow:
        stored = store.add(uow.session, e)
        ApiRepository(uow.session).audit(
            AuditEntry(actor, role, "epidemic:declare", target=f"epidemic:{stored.id}",
                       detail=f"{area} {name} from {starts_on}")
        )  # fmt: skip
        uow.commit()
    return stored


def end(
    uow: UnitOfWork,
    epidemic_id: int,
    ends_on: dt.date,
    *,
    actor: str = CLI_ACTOR,
    role: str = "administrator",
) -> Epidemic:
    """End an epidemic on ``ends_on`` (its last day: not before it started, not after today;
    an epidemic already ended is refused). Audited."""
    today = clock.today()
    if ends_on > today:
        raise InvalidField("ends_on", f"is after today ({today.isoformat()})", ends_on)
    with uow:
        e = store.get(uow.session, epidemic_id, lock=True)
        if e is None:
            raise NotFound("epidemic", epidemic_id)
        if e.ends_on is not None:
            raise SettlementRefused(f"epidemic {epidemic_id}", f"ended on {e.ends_on}")
        if ends_on < e.starts_on:
            raise InvalidField("ends_on", "is before the epidemic starts", ends_on)
        store.set_end(uow.session, epidemic_id, ends_on)
        ApiRepository(uow.session).audit(
            AuditEntry(actor, role, "epidemic:end", target=f"epidemic:{epidemic_id}",
                       detail=f"ended on {ends_on}")
        )  # fmt: skip
        uow.commit()
    return dataclasses.replace(e, ends_on=ends_on)


def epidemic_dict(e: Epidemic) -> dict[str, Any]:
    """An epidemic as the command line and the API answer it (``title``: its name)."""
    return {
        "id": e.id,
        "area": e.area,
        "title": e.name,
        "starts_on": e.starts_on.isoformat(),
        "ends_on": e.ends_on.isoformat() if e.ends_on else None,
        "diseases": list(e.diseases),
        "groups": list(e.groups),
        "declared_by": e.declared_by,
    }


def epidemics(uow: UnitOfWork, area: str | None = None) -> list[Epidemic]:
    with uow:
        return store.listed(uow.session, None if area is None else [area])


# ---------------------------------------------------------------------------- settlement


def in_force(uow: UnitOfWork, areas: Iterable[str]) -> list[EpidemicTerms]:
    """The epidemics declared for ``areas`` (any period: the rule checks the date)."""
    return store.terms(uow.session, areas)


def principal_diagnoses(uow: UnitOfWork, visit_ids: Iterable[int]) -> dict[int, str]:
    """{visit id: its principal diagnosis} of the visits that have one."""
    out = {}
    for vid in visit_ids:
        found = [d for d in uow.fees.diagnoses(vid) if d.principal]
        if found:
            out[vid] = found[0].code
    return out


@dataclass(frozen=True)
class Covered:
    """A claim an epidemic covers: the epidemic and what its exemption moved into scope."""

    epidemic_id: int
    exempted: int


def exempt(
    inp: Any, terms: Sequence[EpidemicTerms], diagnosis: str | None
) -> tuple[Any, Covered | None]:
    """A prepared claim (``services.settlement.compute.Prepared``) as an epidemic covering it
    settles it: its amounts exempt and the tables without the insurance's payment limits
    (``kernel.tables.without_caps``); unchanged otherwise."""
    on = inp.claim.date
    kinds = [g.kind.value for g in groups_on(inp.file, on)]
    found = covering(terms, inp.enrolment.pooling_area, on, diagnosis, kinds)
    if found is None:
        return inp, None
    column = inp.request.column
    total, fsp, over, catb = (
        int(column(name)[0]) for name in ("total", "fully_self_paid", "over_limit", "category_b")
    )
    _, fsp2, over2, catb2 = exempt_amounts(total, fsp, over, catb)
    request = inp.request.replaced(fully_self_paid=fsp2, over_limit=over2, category_b=catb2)
    out = dataclasses.replace(inp, request=request, tables=without_caps(inp.tables))
    return out, Covered(found.id, fsp - fsp2)


# ------------------------------------------------------------------ advance and clearing


def _day(on: dt.date | None) -> dt.date:
    """A posting's date: ``on`` (default today), not after today."""
    day = on or clock.today()
    if day > clock.today():
        raise InvalidField("on", f"is after today ({clock.today().isoformat()})", day)
    return day


def _institution(code: str) -> str:
    check_identifier("institution", code)
    return code


def _epidemic(uow: UnitOfWork, epidemic_id: int) -> Epidemic:
    e = store.get(uow.session, epidemic_id)
    if e is None:
        raise NotFound("epidemic", epidemic_id)
    return e


def _advance_prefix(epidemic_id: int, institution: str) -> str:
    """What the references of the epidemic's advances to the institution begin with."""
    return f"epidemic_advance:{epidemic_id}:{institution}:"


def advanced(uow: UnitOfWork, epidemic_id: int, institution: str) -> int:
    """What the epidemic's advances to the institution came to (fen)."""
    prefix = _advance_prefix(epidemic_id, institution)
    total = uow.session.scalar(
        select(func.coalesce(func.sum(PostingRow.amount), 0))
        .join(LedgerTransactionRow, LedgerTransactionRow.id == PostingRow.transaction_id)
        .join(AccountRow, AccountRow.id == PostingRow.account_id)
        .where(
            LedgerTransactionRow.kind == ADVANCE_KIND,
            LedgerTransactionRow.reference.startswith(prefix, autoescape=True),
            AccountRow.kind == AccountKind.EPIDEMIC_ADVANCE.value,
        )
    )
    return int(total or 0)


def advance(
    uow: UnitOfWork, epidemic_id: int, institution: str, fen: int, on: dt.date | None = None
) -> int:
    """Advance ``fen`` to ``institution`` for the epidemic (预拨), dated ``on`` (default today;
    in the epidemic's period, not after today): one transaction per epidemic, institution and
    day; refused once the institution's advances were cleared. Returns the transaction id."""
    day = _day(on)
    _institution(institution)
    with uow:
        if ApiRepository(uow.session).institution(institution) is None:
            raise InvalidField("institution", "is not a registered institution", institution)
        e = _epidemic(uow, epidemic_id)
        if not e.terms.in_force(day):
            raise InvalidField("on", f"is outside epidemic {epidemic_id}'s period", day)
        txn = LedgerTransaction.of(
            ADVANCE_KIND,
            day,
            advance_postings(e.area, fen),
            f"advance to {institution} for epidemic {epidemic_id} ({e.name})",
            advance_reference(epidemic_id, institution, day),
        )
        if uow.ledger.transaction_id(clearing_reference(epidemic_id, institution)) is not None:
            raise SettlementRefused(
                f"epidemic {epidemic_id}",
                f"the advance to {institution} was cleared: no advance after its clearing",
            )
        txn_id = uow.ledger.post(txn)
        uow.commit()
    return txn_id


def _last_advance(uow: UnitOfWork, epidemic_id: int, institution: str) -> dt.date | None:
    """The day of the epidemic's last advance to the institution."""
    prefix = _advance_prefix(epidemic_id, institution)
    day: dt.date | None = uow.session.scalar(
        select(func.max(LedgerTransactionRow.occurred_on)).where(
            LedgerTransactionRow.kind == ADVANCE_KIND,
            LedgerTransactionRow.reference.startswith(prefix, autoescape=True),
        )
    )
    return day


def clear_advance(
    uow: UnitOfWork, epidemic_id: int, institution: str, on: dt.date | None = None
) -> tuple[int, int]:
    """Clear what the epidemic advanced to ``institution`` (recovered once its settlements are
    cleared): one transaction per epidemic and institution, dated not before the last advance.
    Returns (transaction id, fen); refused when nothing was advanced or it was cleared before."""
    day = _day(on)
    _institution(institution)
    with uow:
        e = _epidemic(uow, epidemic_id)
        fen = advanced(uow, epidemic_id, institution)
        if fen <= 0:
            raise SettlementRefused(
                f"epidemic {epidemic_id}", f"nothing was advanced to {institution}"
            )
        last = _last_advance(uow, epidemic_id, institution)
        if last is not None and day < last:
            raise InvalidField("on", f"{day} is before the last advance cleared ({last})", day)
        ref = clearing_reference(epidemic_id, institution)
        txn = LedgerTransaction.of(
            ADVANCE_CLEARING_KIND,
            day,
            clearing_postings(e.area, fen),
            f"advance to {institution} for epidemic {epidemic_id} cleared",
            ref,
        )
        try:
            txn_id = uow.ledger.post(txn)
        except AlreadyExists:
            raise SettlementRefused(
                f"epidemic {epidemic_id}", f"the advance to {institution} was cleared before"
            ) from None
        uow.commit()
    return txn_id, fen


# ---------------------------------------------------------------------------- report


def report(uow: UnitOfWork, epidemic_id: int) -> dict[str, Any]:
    """The epidemic and every settlement it covered (a reversed one shown, not counted): the
    count, the amounts and what the exemption moved into scope, in yuan."""
    with uow:
        e = _epidemic(uow, epidemic_id)
        lines = store.settlements(uow.session, epidemic_id)
    live = [x for x in lines if x["status"] == "settled"]
    return {
        **epidemic_dict(e),
        "settlements": len(live),
        **{a: fen_to_yuan(sum(x[a] for x in live)) for a in CLEARED_AMOUNTS},
        "exempted": fen_to_yuan(sum(x["exempted"] for x in live)),
        "lines": [
            {
                **{k: v for k, v in x.items() if k in ("setl_id", "status", "fixmedins_code")},
                "pooling_area": x["pooling_area"],
                "settled_on": x["settled_on"].isoformat(),
                "psn_no": str(x["person_id"]),
                **{a: fen_to_yuan(x[a]) for a in CLEARED_AMOUNTS},
                "exempted": fen_to_yuan(x["exempted"]),
            }
            for x in lines
        ],
    }


def apply(
    uow: UnitOfWork, inputs: Sequence[Any], read: Sequence[EpidemicTerms] | None = None
) -> tuple[list[Any], list[Covered | None]]:
    """The prepared claims as the epidemics of their insured areas settle them (one read of
    the areas' epidemics, one of the visits' principal diagnoses). ``read``: epidemics of
    areas that include the claims' already read in this transaction (``person_file.read_files``:
    those of every area the persons are enrolled in), not read again."""
    areas = {inp.enrolment.pooling_area for inp in inputs}
    terms = in_force(uow, areas) if read is None else [t for t in read if t.area in areas]
    if not terms:
        return list(inputs), [None] * len(inputs)
    visit_ids = [inp.visit.id for inp in inputs if inp.visit is not None and inp.visit.id]
    diagnoses = principal_diagnoses(uow, visit_ids)
    out: list[Any] = []
    covered: list[Covered | None] = []
    for inp in inputs:
        vid = inp.visit.id if inp.visit is not None else None
        new, cv = exempt(inp, terms, diagnoses.get(vid) if vid else None)
        out.append(new)
        covered.append(cv)
    return out, covered


def with_reason(computed: Any, covered: Covered | None) -> Any:
    """A computed settlement (``Computed``) with the epidemic's reason when one covered it."""
    if covered is None:
        return computed
    answer = dataclasses.replace(
        computed.answer,
        reasons=(*computed.answer.reasons, f"{REASON} (epidemic {covered.epidemic_id})"),
    )
    return dataclasses.replace(computed, answer=answer)


def mark(uow: UnitOfWork, settled: Iterable[tuple[str | None, Covered | None]]) -> None:
    """Mark the settlements (by setl_id) an epidemic covered."""
    store.mark(
        uow.session,
        [(s, c.epidemic_id, c.exempted) for s, c in settled if s is not None and c is not None],
    )
