"""The year's supervision rules over the store: the visits of a year (not cancelled) of the
persons enrolled in an area, their live fee lines with the classification 2204 stored, their
principal diagnoses and the persons' enrolments, as columns for ``kernel.supervision``; the
evidence in the same form as over a generated area, so ``findings.record`` stores it.

Where the store has no column the rule needs: death is not in the registry (no visit fires for
it), and cover is the span from the person's first enrolment start to the last end (gaps
between enrolments are refused by settlement itself, rules.md §4).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from sqlalchemy import and_, func, select

from yibao.kernel.classify import NO_LIMIT, REASONS
from yibao.kernel.supervision import RULES, LineColumns, Thresholds, VisitColumns, run_rules
from yibao.kernel.tables import epoch_days
from yibao.policy.params import Policy
from yibao.policy.supervision import rule_catalogue
from yibao.policy.vocab import InsuranceScheme, LineReason, MedType, RuleAction
from yibao.store.fee_models import FeeLineRow, VisitDiagnosisRow
from yibao.store.models import EnrolmentRow, VisitRow
from yibao.store.uow import UnitOfWork

_REASON = {r.value: i for i, r in enumerate(REASONS)}
_FAR = dt.date(9999, 12, 31)


def _day(d: dt.date | None) -> int:
    return epoch_days(d) if d is not None else NO_LIMIT


def supervise_store(uow: UnitOfWork, area: str, year: int) -> tuple[pa.Table, int, int]:
    """Every rule of the area's catalogue (on 1 January of ``year``, ``off`` skipped) over the
    year's visits of persons enrolled in ``area``: (evidence, lines, visits)."""
    catalogue = rule_catalogue(Policy(area), dt.date(year, 1, 1))
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    settled = func.coalesce(VisitRow.end_date, VisitRow.begin_date)
    with uow:
        s = uow.session
        people = (
            select(EnrolmentRow.person_id)
            .where(EnrolmentRow.pooling_area == area)
            .distinct()
            .scalar_subquery()
        )
        visits = s.execute(
            select(
                VisitRow.id,
                VisitRow.person_id,
                VisitRow.fixmedins_code,
                VisitRow.med_type,
                VisitRow.begin_date,
                settled,
            )
            .where(
                VisitRow.person_id.in_(people),
                VisitRow.status != "cancelled",
                and_(settled >= first, settled <= last),
            )
            .order_by(VisitRow.id)
        ).all()
        ids = [v[0] for v in visits]
        spans = {
            p: (lo, hi, scheme)
            for p, lo, hi, scheme in s.execute(
                select(
                    EnrolmentRow.person_id,
                    func.min(EnrolmentRow.start_date),
                    func.max(func.coalesce(EnrolmentRow.end_date, _FAR)),
                    func.max(EnrolmentRow.scheme),
                )
                .where(EnrolmentRow.person_id.in_({v[1] for v in visits} or {-1}))
                .group_by(EnrolmentRow.person_id)
            ).all()
        }
        diagnosis = dict(
            s.execute(
                select(VisitDiagnosisRow.visit_id, VisitDiagnosisRow.code).where(
                    VisitDiagnosisRow.visit_id.in_(ids or [-1]), VisitDiagnosisRow.seq == 1
                )
            ).all()
        )
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
            .where(FeeLineRow.visit_id.in_(ids or [-1]), FeeLineRow.status == "live")
            .order_by(FeeLineRow.visit_id, FeeLineRow.id)
        ).all()
    n = len(visits)
    row_of = {vid: i for i, vid in enumerate(ids)}
    person = np.array([v[1] for v in visits], dtype=np.int64)
    _, person_rank = np.unique(person, return_inverse=True)
    codes = sorted({str(d) for d in diagnosis.values()})
    diag = np.array(
        [codes.index(diagnosis[v[0]]) if v[0] in diagnosis else -1 for v in visits], np.int64
    )
    inpatient = np.array([v[3] in (MedType.INPATIENT, MedType.MATERNITY) for v in visits])
    span = [spans.get(v[1], (None, None, None)) for v in visits]
    visit_cols = VisitColumns(
        person=person_rank.astype(np.int64).reshape(-1),
        day=np.array([epoch_days(v[5]) for v in visits], np.int64),
        admit=np.array([epoch_days(v[4]) for v in visits], np.int64),
        inpatient=inpatient.astype(np.bool_),
        diagnosis=diag,
        stay_limit=np.array([catalogue.stay_limit(diagnosis.get(v[0])) for v in visits], np.int64),
        died_on=np.full(n, NO_LIMIT, dtype=np.int64),
        covered_from=np.array([_day(lo) if lo else NO_LIMIT for lo, _, _ in span], np.int64),
        covered_to=np.array(
            [_day(hi) + 1 if hi and hi != _FAR else NO_LIMIT for _, hi, _ in span], np.int64
        ),
    )
    item = sorted({ln[2] for ln in lines})
    line_cols = LineColumns(
        visit=np.array([row_of[ln[0]] for ln in lines], np.int64),
        code=np.array([item.index(ln[2]) for ln in lines], np.int64),
        day=np.array([epoch_days(ln[3]) for ln in lines], np.int64),
        quantity=np.array([ln[4] for ln in lines], np.int64),
        unit_price=np.array([ln[5] for ln in lines], np.int64),
        reason=np.array(
            [_REASON.get(ln[7], _REASON[LineReason.CLASS_A]) for ln in lines], np.int64
        ),
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
    visit_total = np.zeros(n, dtype=np.int64)
    np.add.at(visit_total, line_cols.visit, np.array([ln[6] for ln in lines], np.int64))
    amount = [
        int(lines[i][6]) if i >= 0 else int(visit_total[v])
        for i, v in zip(found.line.tolist(), found.visit.tolist(), strict=True)
    ]
    rows = {
        "rule": [RULES[i].value for i in found.rule.tolist()],
        "claim_id": [ids[v] for v in found.visit.tolist()],
        "psn_no": [visits[v][1] for v in found.visit.tolist()],
        "fixmedins_code": [visits[v][2] for v in found.visit.tolist()],
        "feedetl_sn": [str(lines[i][1]) if i >= 0 else None for i in found.line.tolist()],
        "other_claim_id": [ids[o] if o >= 0 else -1 for o in found.other.tolist()],
        "amount": amount,
        "scheme": [
            InsuranceScheme.RESIDENT.value
            if span[v][2] == InsuranceScheme.RESIDENT.value
            else InsuranceScheme.EMPLOYEE.value
            for v in found.visit.tolist()
        ],
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
