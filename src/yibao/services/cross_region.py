"""Cross-region clearing between pooling areas (异地就医清算): per pair of areas (the insured's,
the treating one) and month, the statement of the cross-region settlements treated in one area
for the other's insured (its settlements of the month less the reversals in it), paid by one
posted transaction per pair and month, and written as CSV and JSON.

The rules (the reference, the payment's legs) are ``yibao.domain.cross_region``; the lines come
from the stored settlements (``store.clearing``, ``cross_only``), the payments from the ledger.
The treating area advances each settlement when it clears its institution's month
(``services.clearing``); this clearing pays it back.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yibao.domain.clearing import CLEARED_AMOUNTS, MonthTotals, month_totals
from yibao.domain.cross_region import (
    CROSS_REGION_KIND,
    check_pair,
    pair_postings,
    pair_reference,
)
from yibao.domain.errors import AlreadyExists
from yibao.domain.ledger import AccountKind, LedgerTransaction
from yibao.policy import fen_to_yuan
from yibao.services.clearing import CSV_COLUMNS as INSTITUTION_COLUMNS
from yibao.services.clearing import line_row, month_span, payment_day, payment_dict
from yibao.store.clearing import MonthGroup, MonthLine, Payment, month_groups, month_lines, payments
from yibao.store.uow import UnitOfWork

#: The columns of a pair's CSV: one row per settlement of the month or reversal in it.
CSV_COLUMNS = (
    "insured_area",
    "treating_area",
    "cross_region",
    *(c for c in INSTITUTION_COLUMNS if c != "pooling_area"),
)


@dataclass(frozen=True)
class PairStatement:
    """A pair of areas' month (异地就医清算单): the insured area owes the treating area
    ``totals.owed`` for the pair's settlements net of reversals; the payment if posted."""

    insured_area: str
    treating_area: str
    first: dt.date
    last: dt.date
    totals: MonthTotals
    payment: Payment | None
    lines: tuple[MonthLine, ...] | None = None

    @property
    def reference(self) -> str:
        return pair_reference(self.insured_area, self.treating_area, self.first)

    @property
    def outstanding(self) -> int:
        """What is owed and not paid (after the payment: what was dated into the month since)."""
        return self.totals.owed - (self.payment.amount if self.payment else 0)

    def summary(self) -> dict[str, Any]:
        t, p = self.totals, self.payment
        return {
            "insured_area": self.insured_area,
            "treating_area": self.treating_area,
            "month": f"{self.first:%Y-%m}",
            "stmt_begndate": self.first.isoformat(),
            "stmt_enddate": self.last.isoformat(),
            "setl_cnt": t.count,
            "settlements": t.settled,
            "reversals": t.reversed,
            **{a: fen_to_yuan(t.amounts[a]) for a in CLEARED_AMOUNTS},
            "owed": fen_to_yuan(t.owed),
            "reference": self.reference,
            "paid": payment_dict(p),
            "outstanding": fen_to_yuan(self.outstanding),
        }

    def as_dict(self) -> dict[str, Any]:
        if self.lines is None:
            return self.summary()
        return {**self.summary(), "lines": [pair_row(x) for x in self.lines]}


def pair_row(x: MonthLine) -> dict[str, Any]:
    """A CSV row (and API line) of a pair's statement: a reversal's amounts negative."""
    row = line_row(x)
    return {
        "insured_area": row.pop("pooling_area"),
        "treating_area": x.treating_area,
        "cross_region": x.cross_region,
        **row,
    }


Pair = tuple[str, str]


def statements(
    uow: UnitOfWork,
    month: str | dt.date,
    insured_area: str | None = None,
    treating_area: str | None = None,
    *,
    lines: bool = False,
) -> list[PairStatement]:
    """The month's statement of every pair of areas with a cross-region settlement or reversal
    in it (of the insured area and/or the treating area given), by pair; with their lines when
    ``lines``. Both areas given: that pair's statement, possibly empty."""
    first, last = month_span(month)
    check_pair(insured_area, treating_area)
    with uow:
        return _read(uow, first, last, insured_area, treating_area, lines)


def _read(
    uow: UnitOfWork,
    first: dt.date,
    last: dt.date,
    insured_area: str | None,
    treating_area: str | None,
    lines: bool,
) -> list[PairStatement]:
    def wanted(home: str, where: str | None) -> bool:
        return where is not None and insured_area in (None, home) and treating_area in (None, where)

    area = insured_area or treating_area
    groups: dict[Pair, list[MonthGroup]] = {}
    if insured_area is not None and treating_area is not None:
        groups[insured_area, treating_area] = []
    for g in month_groups(uow.session, first, last, cross_only=True, area=area):
        if wanted(g.pooling_area, g.treating_area):
            assert g.treating_area is not None
            groups.setdefault((g.pooling_area, g.treating_area), []).append(g)
    by_pair: dict[Pair, list[MonthLine]] = {p: [] for p in groups}
    if lines:
        for x in month_lines(uow.session, first, last, cross_only=True, area=area):
            if wanted(x.pooling_area, x.treating_area):
                assert x.treating_area is not None
                by_pair[x.pooling_area, x.treating_area].append(x)
    refs = [pair_reference(h, t, first) for h, t in groups]
    paid = payments(uow.session, refs, AccountKind.CROSS_REGION_PAYABLE, sign=1)
    return [
        PairStatement(
            home,
            where,
            first,
            last,
            month_totals((g.sign, g.count, g.pooling_area, None, g.amounts) for g in gs),
            paid.get(pair_reference(home, where, first)),
            tuple(by_pair[home, where]) if lines else None,
        )
        for (home, where), gs in sorted(groups.items())
    ]


@dataclass(frozen=True)
class PairCleared:
    """What clearing a month did for one pair: ``posted`` False when it was cleared before
    (nothing changed) or nothing was owed."""

    statement: PairStatement
    posted: bool

    def as_dict(self) -> dict[str, Any]:
        return {**self.statement.summary(), "posted": self.posted}


def pay(
    uow: UnitOfWork,
    month: str | dt.date,
    insured_area: str | None = None,
    treating_area: str | None = None,
    *,
    on: dt.date | None = None,
) -> list[PairCleared]:
    """Clear the month between each pair of areas (of the insured and/or treating area given):
    per pair one transaction ``cross_region:<insured>:<treating>:<YYYY-MM>``
    (``domain.cross_region.pair_postings``), dated ``on`` (default today), after the month's end
    and not after today. A pair's month already cleared is not cleared again; nothing is posted
    for a pair that owes nothing."""
    first, last = month_span(month)
    day = payment_day(first, last, on)
    check_pair(insured_area, treating_area)
    out: list[PairCleared] = []
    with uow:  # read and paid in one database transaction
        for s in _read(uow, first, last, insured_area, treating_area, lines=False):
            legs = pair_postings(s.insured_area, s.treating_area, s.totals.owed)
            if s.payment is not None or not legs:
                out.append(PairCleared(s, False))
                continue
            txn = LedgerTransaction.of(
                CROSS_REGION_KIND,
                day,
                legs,
                f"cross-region clearing of {first:%Y-%m}: {s.insured_area} pays "
                f"{s.treating_area} for {s.totals.count} settlements net",
                s.reference,
            )
            try:
                txn_id = uow.ledger.post(txn)
            except AlreadyExists:  # cleared meanwhile by another run: keep its payment
                out.append(PairCleared(s, False))
                continue
            payment = Payment(s.reference, txn_id, day, s.totals.owed)
            done = PairStatement(
                s.insured_area, s.treating_area, s.first, s.last, s.totals, payment, s.lines
            )
            out.append(PairCleared(done, True))
        uow.commit()
    return out


def write_statement(s: PairStatement, folder: Path) -> tuple[Path, Path]:
    """Write ``<insured>-<treating>-<YYYY-MM>.csv`` (one row per line, ``CSV_COLUMNS``, amounts
    in yuan, a reversal negative: the columns sum to the summary's figures) and ``.json`` (the
    summary) into ``folder``. Returns both paths."""
    if s.lines is None:
        raise ValueError("write_statement: the statement was read without its lines")
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{s.insured_area}-{s.treating_area}-{s.first:%Y-%m}"
    table, summary = folder / f"{stem}.csv", folder / f"{stem}.json"
    with table.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for x in s.lines:
            writer.writerow(pair_row(x))
    summary.write_text(
        json.dumps(s.summary(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return table, summary
