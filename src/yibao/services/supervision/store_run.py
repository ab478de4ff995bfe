"""The year's supervision rules over the store: the visits of a year (not cancelled) of the
persons enrolled in an area, their live fee lines with the classification 2204 stored, their
principal diagnoses and the persons' enrolments, as columns for ``kernel.supervision``; the
evidence in the same form as over a generated area, so ``findings.record`` stores it.

A visit fires ``dead_or_uninsured`` when settled after the registry's date of death
(``persons.died_on``) or outside the span from the person's first enrolment start to the last
end (gaps between enrolments are refused by settlement itself, rules.md §4).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import and_, func, select

from yibao.kernel.classify import NO_LIMIT, REASONS
from yibao.kernel.segments import I64
from yibao.kernel.supervision import RULES, LineColumns, Thresholds, VisitColumns, run_rules
from yibao.policy.params import Policy
from yibao.policy.supervision import rule_catalogue
from yibao.policy.vocab import InsuranceScheme, LineReason, MedType, RuleAction
from yibao.store.fee_models import FeeLineRow, VisitDiagnosisRow
from yibao.store.models import EnrolmentRow, PersonRow, VisitRow
from yibao.store.uow import UnitOfWork

_REASON = {r.value: i for i, r in enumerate(REASONS)}
_CLASS_A = _REASON[LineReason.CLASS_A]
_ADMISSIONS = (MedType.INPATIENT.value, MedType.MATERNITY.value)
_FAR = dt.date(9999, 12, 31)


def _columns(rows: Sequence[Any], width: int) -> list[list[Any]]:
    """A query's rows as its columns."""
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _days(values: Sequence[Any]) -> I64:
    """Dates (None: ``NO_LIMIT``) as epoch days, converted by Arrow (not per value)."""
    days = pa.array(values, pa.date32()).cast(pa.int32()).cast(pa.int64()).fill_null(NO_LIMIT)
    return np.asarray(days.to_numpy(), dtype=np.int64)


def _ids(values: Sequence[Any]) -> tuple[I64, list[Any]]:
    """Each value's id (its index among the distinct values; None is "") and the distinct
    values."""
    encoded = pa.array(values, pa.string()).fill_null("").dictionary_encode()
    ids = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return ids, encoded.dictionary.to_pylist()


def supervise_store(uow: UnitOfWork, area: str, year: int) -> tuple[pa.Table, int, int]:
    """Every rule of the area's catalogue (on 1 January of ``year``, ``off`` skipped) over the
    year's visits of persons enrolled in ``area``: (evidence, lines, visits). One query per
    table (the visits with their persons' dates of death, the persons' enrolment spans, the
    principal diagnoses, the live lines), each turned into columns at once."""
    catalogue = rule_catalogue(Policy(area), dt.date(year, 1, 1))
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    settled = func.coalesce(VisitRow.end_date, VisitRow.begin_date)
    people = (
        select(EnrolmentRow.person_id)
        .where(EnrolmentRow.pooling_area == area)
        .distinct()
        .scalar_subquery()
    )
    in_year = and_(
        VisitRow.person_id.in_(people),
        VisitRow.status != "cancelled",
        settled.between(first, last),
    )
    year_visits = select(VisitRow.id).where(in_year)
    with uow:
        s = uow.session.connection()  # Core rows: no ORM processing of 10^5..10^7 rows
        visits = s.execute(
            select(
                VisitRow.id,
                VisitRow.person_id,
                VisitRow.fixmedins_code,
                VisitRow.med_type,
                VisitRow.begin_date,
                settled,
                PersonRow.died_on,
            )
            .join(PersonRow, PersonRow.id == VisitRow.person_id)
            .where(in_year)
            .order_by(VisitRow.id)
        ).all()
        spans = s.execute(
            select(
                EnrolmentRow.person_id,
                func.min(EnrolmentRow.start_date),
                func.max(func.coalesce(EnrolmentRow.end_date, _FAR)),
                func.max(EnrolmentRow.scheme),
            )
            .where(EnrolmentRow.person_id.in_(select(VisitRow.person_id).where(in_year)))
            .group_by(EnrolmentRow.person_id)
            .order_by(EnrolmentRow.person_id)
        ).all()
        diagnoses = s.execute(
            select(VisitDiagnosisRow.visit_id, VisitDiagnosisRow.code).where(
                VisitDiagnosisRow.visit_id.in_(year_visits), VisitDiagnosisRow.seq == 1
            )
        ).all()
        lines = s.execute(
            select(
                FeeLineRow.visit_id,
                FeeLineRow.feedetl_sn,
                FeeLineRow.code,
                FeeLineRow.fee_date,
                FeeLineRow.quantity,
                FeeLineRow.unit_price,
                FeeLineRow.amount,
                FeeLineRow.reason,
            )
            .where(FeeLineRow.visit_id.in_(year_visits), FeeLineRow.status == "live")
            .order_by(FeeLineRow.visit_id, FeeLineRow.id)
        ).all()
    vid, vperson, vinst, vmed, vbegin, vday, vdied = _columns(visits, 7)
    n = len(visits)
    ids = np.array(vid, dtype=np.int64)  # ascending (ordered by id)
    person = np.array(vperson, dtype=np.int64)
    _, person_rank = np.unique(person, return_inverse=True)
    # principal diagnoses: a code id per visit (−1 none) and its stay limit
    d_visit, d_code = _columns(diagnoses, 2)
    diag = np.full(n, -1, dtype=np.int64)
    code_id, codes = _ids(d_code)
    diag[np.searchsorted(ids, np.array(d_visit, dtype=np.int64))] = code_id.reshape(-1)
    limits = np.array([catalogue.stay_limit(str(c)) for c in codes] + [catalogue.stay_limit(None)])
    # cover: the span of each visiting person's enrolments (ordered by person); each column
    # ends with a sentinel that a person without an enrolment points at
    s_person, s_lo, s_hi, s_scheme = _columns(spans, 4)
    s_ids = np.array([*s_person, -1], dtype=np.int64)
    at = np.searchsorted(s_ids[:-1], person)
    has = s_ids[at] == person
    lo = np.where(has, _days([*s_lo, None])[at], NO_LIMIT)
    hi = _days([None if h is None or h == _FAR else h for h in [*s_hi, None]])[at]
    to = np.where(has & (hi != NO_LIMIT), hi + 1, NO_LIMIT)
    resident = np.array([x == InsuranceScheme.RESIDENT.value for x in [*s_scheme, None]])[at]
    visit_resident = has & resident
    visit_cols = VisitColumns(
        person=person_rank.astype(np.int64).reshape(-1),
        day=_days(vday),
        admit=_days(vbegin),
        inpatient=np.isin(np.array(vmed, dtype=object), list(_ADMISSIONS)),
        diagnosis=diag,
        stay_limit=limits[diag].astype(np.int64),
        died_on=_days(vdied),
        covered_from=lo.astype(np.int64),
        covered_to=to.astype(np.int64),
    )
    l_visit, l_sn, l_code, l_day, l_qty, l_price, l_amount, l_reason = _columns(lines, 8)
    item, _ = _ids(l_code)
    reason_id, reason_text = _ids(l_reason)
    reasons = np.array([_REASON.get(r, _CLASS_A) for r in reason_text], dtype=np.int64)
    reasons = reasons[reason_id] if len(reason_id) else np.zeros(0, dtype=np.int64)
    line_cols = LineColumns(
        visit=np.searchsorted(ids, np.array(l_visit, dtype=np.int64)).astype(np.int64),
        code=item.astype(np.int64).reshape(-1),
        day=_days(l_day),
        quantity=np.array(l_qty, dtype=np.int64),
        unit_price=np.array(l_price, dtype=np.int64),
        reason=reasons,
    )
    found = run_rules(
        visit_cols,
        line_cols,
        Thresholds(
            catalogue.readmission_days,
            catalogue.frequency_window_days,
            catalogue.frequency_max_visits,
        ),
        frozenset(r.code for r in catalogue.rules if r.action != RuleAction.OFF),
    )
    amounts = np.array([*l_amount, 0], dtype=np.int64)  # a sentinel: no line
    visit_total = np.zeros(n, dtype=np.int64)
    np.add.at(visit_total, line_cols.visit, amounts[:-1])
    no_line, no_visit = len(lines), n
    line_at = np.where(found.line >= 0, found.line, no_line)
    other_at = np.where(found.other >= 0, found.other, no_visit)
    rule_codes = np.array([r.value for r in RULES], dtype=object)
    scheme = np.where(
        visit_resident[found.visit], InsuranceScheme.RESIDENT.value, InsuranceScheme.EMPLOYEE.value
    )
    rows = {
        "rule": pa.array(rule_codes[found.rule], pa.string()),
        "claim_id": ids[found.visit],
        "psn_no": person[found.visit],
        "fixmedins_code": pa.array(np.array(vinst, dtype=object)[found.visit], pa.string()),
        "feedetl_sn": pa.array(np.array([*l_sn, None], dtype=object)[line_at], pa.string()),
        "other_claim_id": np.append(ids, -1)[other_at],
        "amount": np.where(found.line >= 0, amounts[line_at], visit_total[found.visit]),
        "scheme": pa.array(scheme.astype(object), pa.string()),
    }
    return pa.table(rows, schema=_SCHEMA), len(lines), n


_SCHEMA = pa.schema(
    [
        ("rule", pa.string()),
        ("claim_id", pa.int64()),
        ("psn_no", pa.int64()),
        ("fixmedins_code", pa.string()),
        ("feedetl_sn", pa.string()),  # the line's serial (None: a visit's finding)
        ("other_claim_id", pa.int64()),
        ("amount", pa.int64()),
        ("scheme", pa.string()),
    ]
)
