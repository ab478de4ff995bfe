"""Monthly settlement with designated institutions (清算): what the funds owe each institution
for a month (its settlements of the month less the reversals in the month), paid by one posted
transaction per institution and month, with the statement an institution reconciles against its
own books and 3201, as a CSV of its settlements and a summary (``write_statement``).

The rules (what is owed, the payment's legs) are ``yibao.domain.clearing``; the month's lines
come from the stored settlements (``store.clearing.month_lines``), the payments from the ledger.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yibao.domain.clearing import (
    CLEARED_AMOUNTS,
    MonthTotals,
    clearing_postings,
    clearing_reference,
    month_end,
    month_totals,
    owed_to_institution,
    parse_month,
)
from yibao.domain.errors import AlreadyExists, InvalidField
from yibao.domain.ledger import LedgerTransaction
from yibao.domain.text import check_identifier
from yibao.policy import fen_to_yuan
from yibao.services import clock
from yibao.store.clearing import (
    MonthGroup,
    MonthLine,
    Payment,
    month_groups,
    month_lines,
    payments,
)
from yibao.store.uow import UnitOfWork

CLEARING_KIND = "clearing"
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")

#: The columns of a statement's CSV, one row per settlement of the month or reversal in it.
CSV_COLUMNS = (
    "fixmedins_code",
    "kind",  # settlement | reversal
    "date",  # settled_on | reversed_on
    "setl_id",
    "mdtrt_id",
    "psn_no",
    "insutype",  # the scheme: employee | resident
    "pooling_area",
    *CLEARED_AMOUNTS,
    "owed",  # medfee_sumamt − psn_cash_pay: funds, commercial, account, mutual aid
)


@dataclass(frozen=True)
class Statement:
    """An institution's month (清算单): the net totals (``fixmedins_setl_cnt``, the amounts,
    what the funds owe by area), the payment if posted, and the lines when they were read."""

    institution: str
    first: dt.date
    last: dt.date
    totals: MonthTotals
    payment: Payment | None
    lines: tuple[MonthLine, ...] | None = None

    @property
    def reference(self) -> str:
        return clearing_reference(self.institution, self.first)

    @property
    def outstanding(self) -> int:
        """What is owed and not paid: all of it before the payment; after it, what was dated
        into the month after it was paid (a back-dated settlement or reversal)."""
        return self.totals.owed - (self.payment.amount if self.payment else 0)

    def summary(self) -> dict[str, Any]:
        """The statement without its lines: the 3201 figures, what is owed, the payment."""
        t = self.totals
        p = self.payment
        return {
            "fixmedins_code": self.institution,
            "month": f"{self.first:%Y-%m}",
            "stmt_begndate": self.first.isoformat(),
            "stmt_enddate": self.last.isoformat(),
            "fixmedins_setl_cnt": t.count,
            "settlements": t.settled,
            "reversals": t.reversed,
            **{a: fen_to_yuan(t.amounts[a]) for a in CLEARED_AMOUNTS},
            "owed": fen_to_yuan(t.owed),
            "owed_by_area": {area: fen_to_yuan(v) for area, v in t.owed_by_area.items()},
            "reference": self.reference,
            "paid": payment_dict(p),
            "outstanding": fen_to_yuan(self.outstanding),
        }

    def as_dict(self) -> dict[str, Any]:
        """The summary and, when they were read, the lines."""
        if self.lines is None:
            return self.summary()
        return {**self.summary(), "lines": [line_row(x) for x in self.lines]}


def payment_dict(p: Payment | None) -> dict[str, Any] | None:
    """A posted clearing payment as a statement answers it (None: not paid)."""
    if p is None:
        return None
    return {
        "transaction": p.transaction_id,
        "paid_on": p.paid_on.isoformat(),
        "amount": fen_to_yuan(p.amount),
    }


def line_row(x: MonthLine) -> dict[str, Any]:
    """A CSV row (and API line) of a statement: a reversal's amounts negative."""
    return {
        "fixmedins_code": x.institution,
        "kind": "settlement" if x.sign > 0 else "reversal",
        "date": x.day.isoformat(),
        "setl_id": x.setl_id,
        "mdtrt_id": x.mdtrt_id,
        "psn_no": str(x.person_id),
        "insutype": x.scheme,
        "pooling_area": x.pooling_area,
        **{a: fen_to_yuan(x.sign * x.amounts[a]) for a in CLEARED_AMOUNTS},
        "owed": fen_to_yuan(x.sign * owed_to_institution(x.amounts)),
    }


def month_span(month: str | dt.date) -> tuple[dt.date, dt.date]:
    """A month (``YYYY-MM`` or a day of it) → its first and last day."""
    first = parse_month(month) if isinstance(month, str) else month.replace(day=1)
    return first, month_end(first)


def payment_day(first: dt.date, last: dt.date, on: dt.date | None) -> dt.date:
    """The day a month is paid: ``on`` (default today), after the month's end and not after
    today."""
    day = on or clock.today()
    today = clock.today()
    if day > today:
        raise InvalidField("on", f"{day.isoformat()} is after today ({today.isoformat()})", day)
    if day <= last:
        raise InvalidField(
            "month", f"{first:%Y-%m} is not over on {day.isoformat()}: pay it after {last}"
        )
    return day


def statements(
    uow: UnitOfWork,
    month: str | dt.date,
    institution: str | None = None,
    *,
    lines: bool | None = None,
) -> list[Statement]:
    """The month's statement of ``institution`` (one, possibly empty) or of every institution
    with a settlement or reversal in the month, by code; with their lines when ``lines`` (by
    default when one institution is asked for: the totals are summed in the database)."""
    first, last = month_span(month)
    if institution is not None:
        check_identifier("institution", institution)
    with uow:
        return _read(
            uow, first, last, institution, institution is not None if lines is None else lines
        )


def _read(
    uow: UnitOfWork, first: dt.date, last: dt.date, institution: str | None, lines: bool
) -> list[Statement]:
    groups: dict[str, list[MonthGroup]] = {} if institution is None else {institution: []}
    for g in month_groups(uow.session, first, last, institution):
        groups.setdefault(g.institution, []).append(g)
    by_line: dict[str, list[MonthLine]] = {code: [] for code in groups}
    if lines:
        for x in month_lines(uow.session, first, last, institution):
            by_line[x.institution].append(x)
    paid = payments(uow.session, [clearing_reference(code, first) for code in groups])
    return [
        Statement(
            code,
            first,
            last,
            month_totals((g.sign, g.count, g.pooling_area, g.treating_area, g.amounts) for g in gs),
            paid.get(clearing_reference(code, first)),
            tuple(by_line[code]) if lines else None,
        )
        for code, gs in sorted(groups.items())
    ]


@dataclass(frozen=True)
class Cleared:
    """What paying a month did for one institution: ``posted`` False when it was paid before
    (nothing changed) or nothing was owed."""

    statement: Statement
    posted: bool

    def as_dict(self) -> dict[str, Any]:
        return {**self.statement.summary(), "posted": self.posted}


def pay(
    uow: UnitOfWork,
    month: str | dt.date,
    institution: str | None = None,
    *,
    on: dt.date | None = None,
) -> list[Cleared]:
    """Pay the month (清算支付) to ``institution`` or to every institution with lines in it: per
    institution one transaction ``clearing:<code>:<YYYY-MM>`` (``domain.clearing
    .clearing_postings``), dated ``on`` (default today), after the month's end and not after
    today. A month already paid to an institution is not paid again (its statement shows the
    payment; anything dated into the month since shows as ``outstanding``). Nothing is posted
    for an institution owed nothing and holding no counter cash of the month."""
    first, last = month_span(month)
    day = payment_day(first, last, on)
    if institution is not None:
        check_identifier("institution", institution)
    out: list[Cleared] = []
    with uow:  # read and paid in one database transaction
        for s in _read(uow, first, last, institution, lines=False):
            legs = clearing_postings(s.institution, s.totals)
            if s.payment is not None or not legs:
                out.append(Cleared(s, False))
                continue
            txn = LedgerTransaction.of(
                CLEARING_KIND,
                day,
                legs,
                f"clearing of {first:%Y-%m} with {s.institution}: {s.totals.count} settlements net",
                s.reference,
            )
            try:
                txn_id = uow.ledger.post(txn)
            except AlreadyExists:  # paid meanwhile by another run: keep its payment
                out.append(Cleared(s, False))
                continue
            payment = Payment(s.reference, txn_id, day, s.totals.owed)
            out.append(Cleared(_with_payment(s, payment), True))
        uow.commit()
    return out


def _with_payment(s: Statement, payment: Payment) -> Statement:
    return Statement(s.institution, s.first, s.last, s.totals, payment, s.lines)


def write_statement(s: Statement, folder: Path) -> tuple[Path, Path]:
    """Write ``<code>-<YYYY-MM>.csv`` (one row per line, ``CSV_COLUMNS``, amounts in yuan, a
    reversal negative: the columns sum to the summary's figures) and ``<code>-<YYYY-MM>.json``
    (the summary) into ``folder`` (a character of the code that a file name should not hold
    is written ``_``). Returns both paths."""
    if s.lines is None:
        raise ValueError("write_statement: the statement was read without its lines")
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{_SAFE.sub('_', s.institution)}-{s.first:%Y-%m}"
    table, summary = folder / f"{stem}.csv", folder / f"{stem}.json"
    with table.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for x in s.lines:
            writer.writerow(line_row(x))
    summary.write_text(
        json.dumps(s.summary(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return table, summary
