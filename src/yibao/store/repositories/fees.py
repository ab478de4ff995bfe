"""The fee repository: a visit's fee detail lines with their classification, its diagnoses and
procedures, its discharge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    distinct,
    func,
    or_,
    select,
    update,
)
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.orm import Session

from yibao.domain.enrolment import Enrolment
from yibao.domain.fees import (
    Diagnosis,
    FeeLine,
    FeeLineClass,
    LineSums,
    Procedure,
    fee_line,
    fee_line_class,
)
from yibao.domain.settlement import Visit
from yibao.policy.supervision import LINE_RULE_REASONS
from yibao.policy.vocab import FeeLineStatus, ItemClass, LineReason, SupervisionRule
from yibao.store.fee_models import FeeLineRow, VisitDiagnosisRow, VisitProcedureRow
from yibao.store.models import VisitRow
from yibao.store.repositories import catalogue, enrolments, settlements
from yibao.store.sql import BulkRead, JsonRead, insert_tuples, pg_in

_LINES = cast(Table, FeeLineRow.__table__)
_LIVE = FeeLineStatus.LIVE.value
#: the line rules counted beside the sums (their lines: a reason of the rule's)
_RULES = tuple(LINE_RULE_REASONS)
#: what makes two lines of a visit the same for ``duplicate_item`` (``kernel.supervision``)
_LINE_KEY = (
    _LINES.c.code
    + "|"
    + sql_cast(_LINES.c.fee_date, String)
    + "|"
    + sql_cast(_LINES.c.quantity, String)
    + "|"
    + sql_cast(_LINES.c.unit_price, String)
)
#: each visit's live lines summed (decoded by ``sums_of``; a part of a settlement round's read
#: too, ``person_files``)
SUMS = BulkRead(
    lambda in_: (
        select(
            _LINES.c.visit_id,
            func.count(),
            func.sum(_LINES.c.amount),
            func.sum(_LINES.c.fully_self_paid),
            func.sum(_LINES.c.over_limit),
            func.sum(_LINES.c.in_scope),
            func.sum(_LINES.c.category_b),
            func.max(_LINES.c.fee_date),
            *(
                func.sum(
                    case(
                        (or_(*(_LINES.c.reason == r.value for r in LINE_RULE_REASONS[rule])), 1),
                        else_=0,
                    )
                )
                for rule in _RULES
            ),
            # the repeated lines (duplicate_item within the visit): lines less distinct
            # (item, day, quantity, unit price)
            func.count() - func.count(distinct(_LINE_KEY)),
        )
        .where(in_(_LINES.c.visit_id, "keys"), _LINES.c.status == _LIVE)
        .group_by(_LINES.c.visit_id)
    )
)
_LINES_OF = BulkRead(
    lambda in_: (
        select(_LINES)
        .where(in_(_LINES.c.visit_id, "keys"))
        .order_by(_LINES.c.visit_id, _LINES.c.id)
    )
)
#: what a batch of uploads reads once its visits are locked, but their lines, in one statement
#: (PostgreSQL; the lines as JSON cost the backend more than their own statement does)
_UPLOAD = JsonRead(
    [
        (settlements.SETTLED_ON_VISITS, pg_in(keys="visits")),
        (enrolments.HISTORIES, pg_in()),  # keyed by persons and kinds
        (catalogue.STAMPS, pg_in(keys="regions")),
    ]
)
_CLASS_COLUMNS = ("item_class", "fully_self_paid", "over_limit", "in_scope", "category_b", "reason")
_RECLASSIFY = (
    update(_LINES)
    .where(_LINES.c.id == bindparam("p_id"))
    .values({c: bindparam(f"p_{c}") for c in _CLASS_COLUMNS})
)


def _line_of(row: Any) -> FeeLine:
    return fee_line(
        row.feedetl_sn,
        row.code,
        row.quantity,
        row.unit_price,
        row.amount,
        row.fee_date,
        row.approval,
        FeeLineStatus(row.status),
        fee_line_class(
            ItemClass(row.item_class),
            row.fully_self_paid,
            row.over_limit,
            row.in_scope,
            row.category_b,
            LineReason(row.reason),
        ),
        row.id,
    )


#: The stored codes of the vocabularies (an enum's ``value`` is a slow property: read once).
_VALUES: dict[Any, str] = {v: v.value for e in (ItemClass, LineReason, FeeLineStatus) for v in e}


#: The columns ``FeeRepository.add_many`` writes, in its rows' order.
_ADDED = (
    "visit_id", "feedetl_sn", "code", "quantity", "unit_price", "amount", "fee_date", "approval",
    "status", "item_class", "fully_self_paid", "over_limit", "in_scope", "category_b", "reason",
)  # fmt: skip


#: An ``add_many`` row in COPY's text format (``store.sql.copy_text``): texts and the day as
#: ``%s``, integers as ``%d``.
_ADDED_TEXT = "%d\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n"


def _class_values(c: FeeLineClass) -> dict[str, Any]:
    return {
        "item_class": _VALUES[c.item_class],
        "fully_self_paid": c.fully_self_paid,
        "over_limit": c.over_limit,
        "in_scope": c.in_scope,
        "category_b": c.category_b,
        "reason": _VALUES[c.reason],
    }


def sums_of(rows: Iterable[Sequence[Any]]) -> dict[int, LineSums]:
    """The rows of ``SUMS``: {visit id: its live lines summed}."""
    return {
        int(v): LineSums(
            int(n),
            int(a),
            int(f),
            int(o),
            int(i),
            int(b),
            tuple(
                (r.value, int(k))
                for r, k in zip((*_RULES, SupervisionRule.DUPLICATE_ITEM), counts, strict=True)
                if k
            ),
            last_day=last,
        )
        for v, n, a, f, o, i, b, last, *counts in rows
    }


def lines_by_visit(rows: Iterable[Any]) -> dict[int, list[FeeLine]]:
    """The rows of ``_LINES_OF``: {visit id: its lines in upload order}."""
    out: dict[int, list[FeeLine]] = {}
    for r in rows:
        out.setdefault(int(r.visit_id), []).append(_line_of(r))
    return out


@dataclass(frozen=True)
class UploadRows:
    """What a batch of uploads reads once its visits are locked (``FeeRepository.for_upload``)."""

    settled: dict[int, str]  # visit id -> the setl_id of its settlement in force
    lines: dict[int, list[FeeLine]]  # visit id -> its lines in upload order, cancelled too
    histories: dict[int, list[Enrolment]]  # person id -> its enrolments


class FeeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # lines

    def lines(self, visit_id: int, *, live_only: bool = False) -> list[FeeLine]:
        """The visit's lines in upload order (cancelled ones too unless ``live_only``)."""
        stmt = select(_LINES).where(_LINES.c.visit_id == visit_id)
        if live_only:
            stmt = stmt.where(_LINES.c.status == _LIVE)
        return [_line_of(r) for r in self.session.execute(stmt.order_by(_LINES.c.id))]

    def lines_of(self, visit_ids: Iterable[int]) -> dict[int, list[FeeLine]]:
        """{visit id: its lines in upload order, cancelled ones too} of the visits among
        ``visit_ids`` with lines (one query)."""
        wanted = sorted(set(visit_ids))
        return lines_by_visit(_LINES_OF.rows(self.session, keys=wanted)) if wanted else {}

    def for_upload(
        self, visit_ids: Iterable[int], person_ids: Iterable[int], regions: Iterable[str]
    ) -> UploadRows:
        """The settlements in force on ``visit_ids`` and their lines (``lines_of``), the
        enrolments of ``person_ids`` (``EnrolmentRepository.histories``). Read after the
        visits are locked, each statement begun after the lock was granted: it sees what the
        transactions it waited for committed (a row lock taken inside a statement would not
        refresh the other tables it reads). On PostgreSQL two statements: the lines, and the
        rest as one ``JsonRead`` with the catalogue's stamps of ``regions`` (a superset of the
        regions of the catalogues the uploads will classify against, if known), from which
        ``CatalogueRepository.stamps`` of those answers in this transaction
        (``catalogue.stamps_read``). The lines go apart: as JSON (320 lines of 16 columns)
        they cost the backend ~0.7 ms more than their own statement, more than the statement
        saves (docs/benchmarks.md, "A 2204 batch's reads after its lock")."""
        visits, persons = sorted(set(visit_ids)), sorted(set(person_ids))
        if not visits:
            return UploadRows({}, {}, {})
        if self.session.get_bind().dialect.name != "postgresql":
            return UploadRows(
                settlements.SettlementRepository(self.session).settled_on_visits(visits),
                self.lines_of(visits),
                enrolments.EnrolmentRepository(self.session).histories(persons)[0]
                if persons
                else {},
            )
        wanted = sorted(set(regions))
        settled, histories, stamps = _UPLOAD.rows(
            self.session, visits=visits, persons=persons, kinds=[], regions=wanted
        )
        if wanted:
            catalogue.stamps_read(self.session, wanted, catalogue.stamps_of(stamps))
        return UploadRows(
            settlements.settled_of(settled),
            self.lines_of(visits),
            enrolments.histories_of(histories)[0],
        )

    def add_lines(self, visit_id: int, lines: Sequence[FeeLine]) -> None:
        """Insert classified lines (one statement)."""
        self.add_many([(visit_id, lines)])

    def add_many(self, uploads: Sequence[tuple[int, Sequence[FeeLine]]]) -> None:
        """Insert the classified lines of many visits (one statement: COPY on PostgreSQL)."""
        rows = []
        values = _VALUES
        for visit_id, lines in uploads:
            for line in lines:
                c = line.classes
                assert c is not None
                rows.append(
                    (
                        visit_id, line.feedetl_sn, line.code, line.quantity, line.unit_price,
                        line.amount, line.fee_date, line.approval, values[line.status],
                        values[c.item_class], c.fully_self_paid, c.over_limit, c.in_scope,
                        c.category_b, values[c.reason],
                    )
                )  # fmt: skip
        insert_tuples(self.session, _LINES, _ADDED, rows, _ADDED_TEXT)

    def reclassify(self, lines: Sequence[FeeLine]) -> None:
        """Store stored lines' new classification (one executemany)."""
        params = []
        for line in lines:
            assert line.id is not None and line.classes is not None
            params.append(
                {"p_id": line.id, **{f"p_{k}": v for k, v in _class_values(line.classes).items()}}
            )
        if params:
            self.session.execute(_RECLASSIFY, params)

    def cancel(self, visit_id: int, serials: Iterable[str] | None) -> int:
        """Mark the visit's live lines (those of ``serials``, or all) cancelled; how many."""
        cond = and_(_LINES.c.visit_id == visit_id, _LINES.c.status == _LIVE)
        if serials is not None:
            cond = and_(cond, _LINES.c.feedetl_sn.in_(sorted(set(serials))))
        result = self.session.execute(
            update(_LINES).where(cond).values(status=FeeLineStatus.CANCELLED.value)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def sums(self, visit_ids: Iterable[int]) -> dict[int, LineSums]:
        """{visit id: its live lines summed} of the visits among ``visit_ids`` with live
        lines (one query)."""
        wanted = sorted(set(visit_ids))
        if not wanted:
            return {}
        return sums_of(SUMS.rows(self.session, keys=wanted))

    # diagnoses, procedures, discharge

    def diagnoses(self, visit_id: int) -> list[Diagnosis]:
        rows = self.session.scalars(
            select(VisitDiagnosisRow)
            .where(VisitDiagnosisRow.visit_id == visit_id)
            .order_by(VisitDiagnosisRow.seq)
        )
        return [Diagnosis(r.code, r.seq == 1, r.diag_type) for r in rows]

    def set_diagnoses(self, visit_id: int, diagnoses: Sequence[Diagnosis]) -> None:
        """Replace the visit's diagnoses (principal first)."""
        self.session.execute(
            delete(VisitDiagnosisRow).where(VisitDiagnosisRow.visit_id == visit_id)
        )
        self.session.add_all(
            VisitDiagnosisRow(visit_id=visit_id, seq=i, code=d.code, diag_type=d.diag_type)
            for i, d in enumerate(diagnoses, start=1)
        )

    def procedures(self, visit_id: int) -> list[Procedure]:
        rows = self.session.scalars(
            select(VisitProcedureRow)
            .where(VisitProcedureRow.visit_id == visit_id)
            .order_by(VisitProcedureRow.seq)
        )
        return [Procedure(r.code, r.performed_on, r.main) for r in rows]

    def set_procedures(self, visit_id: int, procedures: Sequence[Procedure]) -> None:
        """Replace the visit's procedures (the main one first)."""
        self.session.execute(
            delete(VisitProcedureRow).where(VisitProcedureRow.visit_id == visit_id)
        )
        self.session.add_all(
            VisitProcedureRow(visit_id=visit_id, seq=i, code=p.code, performed_on=p.on, main=p.main)
            for i, p in enumerate(procedures, start=1)
        )

    def discharge(self, visit: Visit, on: dt.date | None, way: str | None) -> None:
        """Record (or, with None, take back) the visit's discharge date and way."""
        self.session.execute(
            update(VisitRow).where(VisitRow.id == visit.id).values(end_date=on, discharge_way=way)
        )
