"""Load a generated pooling area into the registry database (SQLite or PostgreSQL).

``load_area(folder, db)`` reads ``folder/persons/part-*.parquet`` one part at a time and writes,
in one database transaction per part:

- persons and households, through the bulk import of ``yibao.store.bulk`` (validated IDs,
  staging table, set-based insert); the region of residence is the area's code;
- close relations (both directions): the head and each member, as the ``relation`` column
  says; the head's spouse and the head's children and grandchildren; the head's children among
  themselves (siblings);
- special groups: ``newborn`` (from birth to the day before the first birthday), ``student``
  (the calendar year), the aid classes (tekun, dibao, ...: from 1 January of the year before,
  or birth, open-ended, so they are in force in the collection period);
- one active enrolment per person in the area (employee in service: kind ``employer`` with a
  synthetic employer code; ``flexible``; ``retiree``; ``resident``) starting on
  ``enrolled_on``, and its ``enrol`` event (a generated retiree has no contribution history
  and is taken as reaching the minimum years: deemed, no back-payment);
- the year's contributions, computed by ``yibao.rules.contributions`` with the area's policy
  (``services.common.policy_for``) and posted as balanced ledger transactions: 12 employee,
  flexible or retiree-credit months (from the month of enrolment for those who joined during
  the year, paid on the 20th or on the day of enrolment if later), one resident year (paid on
  ``enrolled_on`` for those enrolled from 1 September of the year before, else on a day of the
  collection period, 1 September .. 31 December, drawn from ``psn_no``); and the coverage year
  marked insured. The same transactions carry the financing of the critical illness fund (with
  each resident contribution) and of the large-amount fund (with each month), by
  ``yibao.rules.financing`` as the services post it;
- after the last part, the year's fiscal allocation to the medical assistance fund, by the
  service itself (``services.ledger.allocate_assistance``; posted once per area and year).

The rows are those the services (``services.enrolment.enrol``, ``services.contributions.pay_*``,
``credit_retiree``) would write for the same calls — same amounts, postings, references,
descriptions, coverage rows — but written set-based from staging tables (a test compares
them with the services). Each part is checked before commit like ``UnitOfWork.commit``: every
transaction written has at least two postings summing to zero (PostgreSQL's deferred trigger
checks again at COMMIT).

Loading is idempotent per part: a part whose persons are all registered and enrolled is
skipped; a part none of whose persons is registered is loaded; anything in between (persons
registered by another route) is refused with ``AreaLoadRefused``. Memory is bounded by the part
size (the generator's chunk size), not by the number of persons.
"""

from __future__ import annotations

import datetime as dt
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from yibao.domain.enrolment import Scheme
from yibao.domain.errors import RecordError, UnbalancedTransaction
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.policy import ParameterError, Policy, fen_to_yuan
from yibao.rules import contributions as rules
from yibao.rules import financing
from yibao.services import ledger, yearend
from yibao.services.common import policy_for
from yibao.store import bulk
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.uow import UnitOfWork
from yibao.synth.writer import read_manifest

#: called after each part with (persons done, persons in all)
Progress = Callable[[int, int], None]

PERSON_COLUMNS = (
    "psn_no",
    "scheme",
    "assistance_class",
    "national_id",
    "name",
    "birth_date",
    "household_id",
    "relation",
    "groups",
    "wage",
    "contribution_base",
    "enrolled_on",
    "account_balance",
    "coverage_history",
    "contribution_years",
    "continuous_years",
    "repaired_years",
    "zero_claim_years",
)
KIND_OF_SCHEME = {
    "employee": "employer",
    "flexible": "flexible",
    "retiree": "retiree",
    "resident": "resident",
}
PAY_DAY = 20  # monthly contributions and retiree credits are paid on the 20th
COLLECTION_START = (9, 1)  # the resident collection period: 1 September .. 31 December
COLLECTION_DAYS = 122
PERSONS_PER_EMPLOYER = 50
#: policy parameters the monthly rules read: months with equal values share their amounts
MONTHLY_PATHS = (
    "employee.contribution.base_floor",
    "employee.contribution.base_ceiling",
    "employee.contribution.employer_rate",
    "employee.contribution.employee_rate",
    "employee.contribution.flexible_rate",
    "employee.personal_account.in_service_share",
    "employee.personal_account.retiree_monthly",
    "large_amount.financing.per_month",
)

SP = "yibao_synth_people"
SM = "yibao_synth_monthly"
MONTHS = "yibao_synth_months"
SC = "yibao_synth_contrib"
SH = "yibao_synth_history"
TEMP_TABLES = (SP, SM, MONTHS, SC, SH)
#: ``fund_paid`` of a past insured year that was not a zero-claim year: the generator does not
#: know the amount, and a positive one is what tells the incentive rule the funds paid something
PAST_FUND_PAID = 1


class AreaLoadRefused(RecordError):
    """The area cannot be loaded into this database; the message says why."""


@dataclass
class LoadReport:
    folder: str
    database: str
    region: str
    year: int
    persons: int  # generated
    parts: int
    parts_loaded: int = 0
    parts_skipped: int = 0
    persons_inserted: int = 0
    invalid: int = 0
    households: int = 0
    relations: int = 0
    groups: int = 0
    enrolments: dict[str, int] = field(default_factory=dict)
    contributions: dict[str, int] = field(default_factory=dict)
    transactions: int = 0
    postings: int = 0
    opening_balances: int = 0  # personal accounts brought in with a balance
    opening_total: int = 0  # fen
    history_years: int = 0  # coverage years before the year
    assistance_allocation: int = 0  # fen: the year's fiscal allocation to medical assistance
    seconds: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def persons_per_minute(self) -> float:
        return self.persons_inserted * 60.0 / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "database": self.database,
            "region": self.region,
            "year": self.year,
            "persons": self.persons,
            "parts": self.parts,
            "parts_loaded": self.parts_loaded,
            "parts_skipped": self.parts_skipped,
            "persons_inserted": self.persons_inserted,
            "invalid": self.invalid,
            "households": self.households,
            "relations": self.relations,
            "groups": self.groups,
            "enrolments": dict(sorted(self.enrolments.items())),
            "contributions": dict(sorted(self.contributions.items())),
            "transactions": self.transactions,
            "postings": self.postings,
            "opening_balances": {
                "count": self.opening_balances,
                "total": fen_to_yuan(self.opening_total),
            },
            "history_years": self.history_years,
            "assistance_allocation": fen_to_yuan(self.assistance_allocation),
            "seconds": round(self.seconds, 2),
            "persons_per_minute": round(self.persons_per_minute),
            "errors": self.errors,
        }


def _add(counts: dict[str, int], key: str, n: int) -> None:
    counts[key] = counts.get(key, 0) + n


def half_up(numerator: int, denominator: int) -> int:
    return int((Decimal(numerator) / denominator).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# ------------------------------------------------------------------------- what to post


@dataclass(frozen=True)
class MonthGroup:
    """Consecutive months of the year over which the monthly rules read the same values."""

    index: int
    months: tuple[dt.date, ...]

    @property
    def first(self) -> dt.date:
        return self.months[0]


@dataclass(frozen=True)
class Monthly:
    """One month's amounts of a person (the same in every month of a group)."""

    base: int | None
    employer_part: int
    employee_part: int
    account_credit: int
    cash: int  # debit cash
    pool: int  # signed: employee pooling leg
    personal: int  # signed: personal account leg
    large: int  # signed: large-amount fund leg (its financing, from the pooling part)


def month_groups(policy: Policy, year: int) -> list[MonthGroup]:
    def signature(on: dt.date) -> tuple[Any, ...]:
        values: list[Any] = []
        for path in MONTHLY_PATHS:
            try:
                values.append(policy.get(path, on))
            except ParameterError:
                values.append(None)
        return tuple(values)

    groups: list[list[dt.date]] = []
    last: tuple[Any, ...] | None = None
    for month in range(1, 13):
        first = dt.date(year, month, 1)
        sig = signature(first)
        if sig != last:
            groups.append([])
            last = sig
        groups[-1].append(first)
    return [MonthGroup(i, tuple(g)) for i, g in enumerate(groups)]


class Rules:
    """The contribution rules of the area, memoised on their inputs."""

    def __init__(self, policy: Policy, year: int) -> None:
        self.policy = policy
        self.year = year
        self.groups = month_groups(policy, year)
        self._cache: dict[tuple[str, int, int], Monthly] = {}
        self._resident: dict[str | None, tuple[rules.ResidentContribution, int]] = {}

    def monthly(self, kind: str, group: MonthGroup, wage: int, base: int) -> Monthly:
        key = (kind, group.index, wage if kind == "employer" else base)
        found = self._cache.get(key)
        if found is not None:
            return found
        on = group.first
        if kind == "employer":
            e = rules.employee_monthly(self.policy, on, half_up(wage, 12))
            large = financing.large_amount_share(self.policy, on, e.pooling_part)
            m = Monthly(
                e.base,
                e.employer_part,
                e.employee_part,
                e.account_credit,
                e.total,
                large - e.pooling_part,
                -e.account_credit,
                -large,
            )
        elif kind == "flexible":
            rng = rules.monthly_base_range(self.policy, on)
            f = rules.flexible_monthly(self.policy, on, rng.clamp(half_up(base, 12)))
            large = financing.large_amount_share(self.policy, on, f.pooling_part)
            m = Monthly(
                f.base,
                0,
                f.total,
                f.account_credit,
                f.total,
                large - f.pooling_part,
                -f.account_credit,
                -large,
            )
        else:
            amount = rules.account_credit_retiree(self.policy, on)
            large = financing.large_amount_share(self.policy, on)
            m = Monthly(None, 0, 0, amount, 0, amount + large, -amount, -large)
        self._cache[key] = m
        return m

    def resident(self, aid: str | None) -> tuple[rules.ResidentContribution, int]:
        """The resident contribution of an aid class and its critical illness financing."""
        if aid not in self._resident:
            classes = [aid] if aid else []
            on = dt.date(self.year, 1, 1)
            c = rules.resident_annual(self.policy, on, classes)
            self._resident[aid] = (c, financing.critical_illness_share(self.policy, on, c.total))
        return self._resident[aid]


# --------------------------------------------------------------------------- SQL helpers


def _temp_tables(conn: Connection) -> None:
    pg = conn.dialect.name == "postgresql"
    date = "date" if pg else "text"
    big = "bigint" if pg else "integer"
    for table in TEMP_TABLES:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {SP} (psn_no {big} PRIMARY KEY, national_id text, head_psn {big}, "
        f"relation text, kind text, employer_code text, start_date {date}, birth_date {date}, "
        f"aid text, aid_from {date}, newborn_to {date}, student integer, res_paid_on {date}, "
        f"res_individual {big}, res_subsidy {big}, res_assistance {big}, res_critical {big}, "
        f"res_suffix text, opening {big}, "
        f"person_id {big}, enrolment_id {big})"
    )
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {SM} (psn_no {big}, grp integer, base {big}, employer_part {big}, "
        f"employee_part {big}, account_credit {big}, cash {big}, pool {big}, personal {big}, "
        f"large {big})"
    )
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {SH} (psn_no {big}, year integer, status text, scheme text, "
        f"repaired integer, fund_paid {big}, continuous_years integer, zero_claim integer)"
    )
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {MONTHS} (grp integer, period_start {date}, period_end {date}, "
        f"paid_on {date}, ym text, iso text)"
    )
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {SC} (person_id {big}, enrolment_id {big}, kind text, "
        f"txn_kind text, period_start {date}, period_end {date}, paid_on {date}, base {big}, "
        f"employer_part {big}, employee_part {big}, individual {big}, fiscal_subsidy {big}, "
        f"assistance_paid {big}, account_credit {big}, reference text, description text, "
        f"transaction_id {big}, cash {big}, employee_pool {big}, resident_pool {big}, "
        f"assistance {big}, subsidy {big}, personal {big}, large_amount {big}, critical {big})"
    )


def _copy(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """Load rows (dates as ISO strings) into a staging table."""
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
    finally:
        cur.close()


def _run(conn: Connection, sql: str, **params: Any) -> int:
    return int(conn.execute(text(sql), params).rowcount or 0)


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d is not None else None


def newborn_until(birth: dt.date) -> dt.date:
    try:
        return birth.replace(year=birth.year + 1) - dt.timedelta(days=1)
    except ValueError:  # 29 February
        return dt.date(birth.year + 1, 2, 28)


def _fund_account(conn: Connection, kind: AccountKind, area: str) -> int:
    ref = AccountRef.fund(kind, area)
    conn.execute(
        text(
            "INSERT INTO accounts (code, kind, pooling_area, normal_side, balance) "
            "VALUES (:code, :kind, :area, :side, 0) ON CONFLICT (code) DO NOTHING"
        ),
        {
            "code": ref.code,
            "kind": kind.value,
            "area": ref.pooling_area,
            "side": "debit" if kind.debit_normal else "credit",
        },
    )
    return int(
        conn.execute(text("SELECT id FROM accounts WHERE code = :c"), {"c": ref.code}).scalar_one()
    )


# ------------------------------------------------------------------------------ one part


@dataclass
class _Context:
    region: str
    year: int
    persons: int
    rules: Rules
    report: LoadReport
    max_errors: int


def _person_batch(table: pa.Table, region: str) -> pa.RecordBatch:
    n = table.num_rows
    household = table.column("household_id").cast(pa.string())
    return pa.RecordBatch.from_arrays(
        [
            table.column("national_id").combine_chunks(),
            table.column("name").combine_chunks(),
            household.combine_chunks(),
            pa.array([region] * n, type=pa.string()),
        ],
        names=["national_id", "name", "household", "region"],
    )


def employer_code_of(region: str, psn_no: int, persons: int) -> str:
    employers = max(1, persons // PERSONS_PER_EMPLOYER)
    return f"SYN{region}{(psn_no * 2654435761) % employers:07d}"


def resident_paid_on(psn_no: int, enrolled_on: dt.date, year: int) -> dt.date:
    start = dt.date(year - 1, *COLLECTION_START)
    if enrolled_on >= start:
        return enrolled_on
    return start + dt.timedelta(days=zlib.crc32(psn_no.to_bytes(8, "little")) % COLLECTION_DAYS)


def past_years(
    history: str,
    year: int,
    scheme: str,
    contribution_years: int | None,
    continuous_years: int,
    repaired_years: int,
    zero_claim_years: int,
) -> tuple[list[yearend.PastYear], int]:
    """The generated coverage history as past years (oldest first) and the insured years just
    before the first of them:

    - ``coverage_history`` gives the years Y−10 .. Y−1 (``-``: not born, no row);
    - scheme: employee for retirees and for the last ``contribution_years`` years of those in
      service and flexible workers; resident otherwise;
    - the ``repaired_years`` latest lapsed years are repaired, the ``zero_claim_years`` latest
      insured years are zero-claim years; the funds paid ``PAST_FUND_PAID`` in the other insured
      years (the amount is not generated);
    - a run of insured years reaching Y−1 from the first recorded year continues the person's
      ``continuous_years`` (residents: the spell; employees: their contribution years)."""
    first = year - len(history)
    marks = [(first + j, ch) for j, ch in enumerate(history) if ch in "01"]
    employee_since = (
        -1
        if scheme == "retiree"
        else year - (contribution_years or 0)
        if scheme in ("employee", "flexible")
        else year + 1
    )
    repaired = {y for y, ch in marks if ch == "0"}
    repaired = (
        set(sorted(repaired)[max(len(repaired) - repaired_years, 0) :]) if repaired_years else set()
    )
    insured = [y for y, ch in marks if ch == "1"]
    zero = set(insured[max(len(insured) - zero_claim_years, 0) :]) if zero_claim_years else set()
    years = [
        yearend.PastYear(
            year=y,
            insured=ch == "1",
            scheme=Scheme.EMPLOYEE if y >= employee_since else Scheme.RESIDENT,
            repaired=y in repaired,
            zero_claim=y in zero,
            fund_paid=PAST_FUND_PAID if ch == "1" and y not in zero else 0,
        )
        for y, ch in marks
    ]
    before = 0
    if years and all(y.insured for y in years) and years[-1].year == year - 1:
        before = max(continuous_years - len(years), 0)
    return years, before


def opening_balance(balance: int, credits: int, enrolled_on: dt.date, year: int) -> int:
    """A personal account's balance brought in at 1 January: the generated ``account_balance``
    (opening + the year's credit, after mutual-aid pledges) less the year's credits as posted,
    never negative; none for an account opened during the year."""
    if enrolled_on >= dt.date(year, 1, 1):
        return 0
    return max(balance - credits, 0)


def _people_rows(
    table: pa.Table, ctx: _Context
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows of the people, monthly and past-years staging tables."""
    year = ctx.year
    aid_start = dt.date(year - 1, 1, 1)
    cols = {c: table.column(c).to_pylist() for c in PERSON_COLUMNS}
    people: list[tuple[Any, ...]] = []
    monthly: list[tuple[Any, ...]] = []
    history: list[tuple[Any, ...]] = []
    months_from = {
        g.index: [month_end(m) for m in g.months] for g in ctx.rules.groups
    }  # the last day of each month of each group
    for i in range(table.num_rows):
        psn = cols["psn_no"][i]
        kind = KIND_OF_SCHEME[cols["scheme"][i]]
        birth: dt.date = cols["birth_date"][i]
        start: dt.date = cols["enrolled_on"][i]
        aid = cols["assistance_class"][i]
        groups = cols["groups"][i] or []
        newborn_to = newborn_until(birth) if "newborn" in groups else None
        employer = employer_code_of(ctx.region, psn, ctx.persons) if kind == "employer" else None
        paid_on: dt.date | None = None
        res: tuple[Any, ...] = (None, None, None, None, None)
        credits = 0
        if kind == "resident":
            paid_on = resident_paid_on(psn, start, year)
            c, critical = ctx.rules.resident(aid)
            suffix = f" (assistance class {c.assistance_class})" if c.assistance_class else ""
            res = (c.individual, c.fiscal_subsidy, c.assistance_paid, critical, suffix)
        else:
            wage = cols["wage"][i] or 0
            base = cols["contribution_base"][i] or 0
            for group in ctx.rules.groups:
                if start > month_end(group.months[-1]):
                    continue
                m = ctx.rules.monthly(kind, group, wage, base)
                credits += m.account_credit * sum(1 for e in months_from[group.index] if e >= start)
                monthly.append(
                    (
                        psn,
                        group.index,
                        m.base,
                        m.employer_part,
                        m.employee_part,
                        m.account_credit,
                        m.cash,
                        m.pool,
                        m.personal,
                        m.large,
                    )
                )
        people.append(
            (
                psn,
                cols["national_id"][i],
                cols["household_id"][i],
                cols["relation"][i],
                kind,
                employer,
                start.isoformat(),
                birth.isoformat(),
                aid,
                _iso(max(birth, aid_start)) if aid else None,
                _iso(newborn_to),
                1 if "student" in groups else 0,
                _iso(paid_on),
                *res,
                opening_balance(cols["account_balance"][i] or 0, credits, start, year)
                if kind != "resident"
                else 0,
            )
        )
        past, before = past_years(
            cols["coverage_history"][i] or "",
            year,
            cols["scheme"][i],
            cols["contribution_years"][i],
            cols["continuous_years"][i] or 0,
            cols["repaired_years"][i] or 0,
            cols["zero_claim_years"][i] or 0,
        )
        for r in yearend.past_rows(psn, ctx.region, past, before):
            history.append(
                (
                    psn,
                    r.year,
                    r.status.value,
                    r.scheme.value if r.scheme else None,
                    int(r.repaired),
                    r.fund_paid,
                    r.continuous_years,
                    int(r.zero_claim),
                )
            )
    return people, monthly, history


PEOPLE_COLUMNS = (
    "psn_no",
    "national_id",
    "head_psn",
    "relation",
    "kind",
    "employer_code",
    "start_date",
    "birth_date",
    "aid",
    "aid_from",
    "newborn_to",
    "student",
    "res_paid_on",
    "res_individual",
    "res_subsidy",
    "res_assistance",
    "res_critical",
    "res_suffix",
    "opening",
)
HISTORY_COLUMNS = (
    "psn_no",
    "year",
    "status",
    "scheme",
    "repaired",
    "fund_paid",
    "continuous_years",
    "zero_claim",
)
MONTHLY_COLUMNS = (
    "psn_no",
    "grp",
    "base",
    "employer_part",
    "employee_part",
    "account_credit",
    "cash",
    "pool",
    "personal",
    "large",
)


def month_end(first: dt.date) -> dt.date:
    nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def _month_rows(groups: list[MonthGroup]) -> list[tuple[Any, ...]]:
    return [
        (
            g.index,
            m.isoformat(),
            month_end(m).isoformat(),
            m.replace(day=PAY_DAY).isoformat(),
            f"{m:%Y-%m}",
            m.isoformat(),
        )
        for g in groups
        for m in g.months
    ]


_REVERSE = (
    "CASE {r} WHEN 'child' THEN 'parent' WHEN 'parent' THEN 'child' "
    "WHEN 'grandchild' THEN 'grandparent' WHEN 'grandparent' THEN 'grandchild' ELSE {r} END"
)


def _relations_sql() -> str:
    member = f"FROM {SP} m JOIN {SP} h ON h.psn_no = m.head_psn WHERE m.relation <> 'head'"
    spouse = (
        f"FROM {SP} c JOIN {SP} w ON w.head_psn = c.head_psn AND w.relation = 'spouse' "
        "WHERE c.relation IN ('child', 'grandchild')"
    )
    sibling = (
        f"FROM {SP} a JOIN {SP} b ON b.head_psn = a.head_psn AND b.psn_no <> a.psn_no "
        "WHERE a.relation = 'child' AND b.relation = 'child'"
    )
    return (
        "INSERT INTO relations (person_id, relative_id, kind) SELECT x, y, k FROM ("
        f"SELECT h.person_id AS x, m.person_id AS y, m.relation AS k {member} "
        f"UNION ALL SELECT m.person_id, h.person_id, {_REVERSE.format(r='m.relation')} {member} "
        f"UNION ALL SELECT w.person_id, c.person_id, c.relation {spouse} "
        f"UNION ALL SELECT c.person_id, w.person_id, {_REVERSE.format(r='c.relation')} {spouse} "
        f"UNION ALL SELECT a.person_id, b.person_id, 'sibling' {sibling}"
        ") r WHERE x IS NOT NULL AND y IS NOT NULL"
    )


def _load_part(conn: Connection, path: Path, ctx: _Context) -> int:
    """Load one persons part inside the caller's transaction; returns the persons inserted,
    or -1 when the part was already loaded."""
    report = ctx.report
    pg = conn.dialect.name == "postgresql"

    def d(name: str) -> str:  # a date parameter
        return f"CAST(:{name} AS DATE)" if pg else f":{name}"

    table = pq.read_table(path, columns=list(PERSON_COLUMNS))
    checked = bulk.ImportReport(path=str(path), format="parquet")
    rows = bulk.validate_batch(_person_batch(table, ctx.region), 1, checked, ctx.max_errors)
    report.invalid += checked.invalid
    for e in checked.errors[: max(ctx.max_errors - len(report.errors), 0)]:
        report.errors.append(
            {"part": path.name, "row": e.row, "field": e.field, "reason": e.reason}
        )
    bulk.stage_persons(conn, rows)
    present = bulk.staged_already_registered(conn)
    if present:
        enrolled = int(
            conn.execute(
                text(
                    f"SELECT COUNT(*) FROM {bulk.STAGE} s JOIN persons p "
                    "ON p.national_id = s.national_id JOIN enrolments e ON e.person_id = p.id "
                    "AND e.status IN ('active', 'suspended')"
                )
            ).scalar_one()
        )
        if present == len(rows) and enrolled == len(rows):
            return -1
        raise AreaLoadRefused(
            f"{path.name}: {present} of its {len(rows)} persons are already registered "
            f"({enrolled} enrolled); load into a database without them"
        )
    households, inserted = bulk.insert_staged(conn)
    report.households += households

    _temp_tables(conn)
    people, monthly, history = _people_rows(table, ctx)
    del table
    _copy(conn, SP, PEOPLE_COLUMNS, people)
    _copy(conn, SM, MONTHLY_COLUMNS, monthly)
    _copy(conn, SH, HISTORY_COLUMNS, history)
    _copy(
        conn,
        MONTHS,
        ("grp", "period_start", "period_end", "paid_on", "ym", "iso"),
        _month_rows(ctx.rules.groups),
    )
    del people, monthly, history
    conn.exec_driver_sql(f"CREATE INDEX ix_{SP}_head ON {SP} (head_psn)")
    conn.exec_driver_sql(f"CREATE INDEX ix_{SM}_psn ON {SM} (psn_no)")
    if pg:
        conn.exec_driver_sql(f"ANALYZE {SP}")
        conn.exec_driver_sql(f"ANALYZE {SM}")
    _run(
        conn,
        f"UPDATE {SP} SET person_id = "
        f"(SELECT p.id FROM persons p WHERE p.national_id = {SP}.national_id)",
    )
    conn.exec_driver_sql(f"CREATE INDEX ix_{SP}_person ON {SP} (person_id)")
    report.relations += _run(conn, _relations_sql())
    report.groups += _run(
        conn,
        "INSERT INTO special_groups (person_id, kind, valid_from, valid_to) "
        f"SELECT person_id, 'newborn', birth_date, newborn_to FROM {SP} "
        "WHERE newborn_to IS NOT NULL AND person_id IS NOT NULL "
        f"UNION ALL SELECT person_id, 'student', {d('y0')}, {d('y1')} FROM {SP} "
        "WHERE student = 1 AND person_id IS NOT NULL "
        f"UNION ALL SELECT person_id, aid, aid_from, NULL FROM {SP} "
        "WHERE aid IS NOT NULL AND person_id IS NOT NULL",
        y0=dt.date(ctx.year, 1, 1).isoformat(),
        y1=dt.date(ctx.year, 12, 31).isoformat(),
    )
    _run(
        conn,
        "INSERT INTO enrolments (person_id, scheme, kind, pooling_area, employer_code, "
        "start_date, status, carried_employee_months, carried_resident_years) "
        "SELECT person_id, CASE kind WHEN 'resident' THEN 'resident' ELSE 'employee' END, kind, "
        f":area, employer_code, start_date, 'active', 0, 0 FROM {SP} "
        "WHERE person_id IS NOT NULL ORDER BY psn_no",
        area=ctx.region,
    )
    _run(
        conn,
        f"UPDATE {SP} SET enrolment_id = (SELECT e.id FROM enrolments e "
        f"WHERE e.person_id = {SP}.person_id AND e.status = 'active')",
    )
    if pg:  # the ids are known now: the joins on them need fresh statistics
        conn.exec_driver_sql(f"ANALYZE {SP}")
        conn.exec_driver_sql(f"ANALYZE {SH}")
    for kind, n in conn.execute(
        text(f"SELECT kind, COUNT(*) FROM {SP} WHERE enrolment_id IS NOT NULL GROUP BY kind")
    ).all():
        _add(report.enrolments, str(kind), int(n))
    _run(
        conn,
        "INSERT INTO enrolment_events (enrolment_id, kind, on_date) "
        f"SELECT enrolment_id, 'enrol', start_date FROM {SP} "
        "WHERE enrolment_id IS NOT NULL ORDER BY psn_no",
    )
    report.history_years += _run(
        conn,
        "INSERT INTO coverage_years (person_id, year, status, scheme, pooling_area, repaired, "
        "fund_paid, continuous_years, zero_claim, closed) "
        f"SELECT sp.person_id, h.year, h.status, h.scheme, :area, h.repaired = 1, h.fund_paid, "
        f"h.continuous_years, h.zero_claim = 1, :closed FROM {SH} h "
        f"JOIN {SP} sp ON sp.psn_no = h.psn_no WHERE sp.enrolment_id IS NOT NULL "
        "ORDER BY sp.person_id, h.year",
        area=ctx.region,
        closed=True,
    )
    _contributions(conn, ctx, d)
    _openings(conn, ctx, d)
    return inserted


#: the fund legs of the staged contributions (columns of the contributions staging table)
FUND_LEGS = (
    "cash",
    "assistance",
    "subsidy",
    "employee_pool",
    "resident_pool",
    "large_amount",
    "critical",
)


def _contributions(conn: Connection, ctx: _Context, d: Callable[[str], str]) -> None:
    report = ctx.report
    pg = conn.dialect.name == "postgresql"
    _run(
        conn,
        "INSERT INTO accounts (code, kind, pooling_area, person_id, normal_side, balance) "
        f"SELECT 'personal:' || CAST(sp.person_id AS TEXT), 'personal_account', NULL, "
        f"sp.person_id, 'credit', 0 FROM {SP} sp WHERE sp.enrolment_id IS NOT NULL AND (EXISTS "
        f"(SELECT 1 FROM {SM} sm WHERE sm.psn_no = sp.psn_no AND sm.personal <> 0) "
        "OR sp.opening > 0) "
        "ORDER BY sp.psn_no ON CONFLICT (code) DO NOTHING",
    )
    kind_expr = (
        "CASE sp.kind WHEN 'employer' THEN 'employee' WHEN 'flexible' THEN 'flexible' "
        "ELSE 'retiree_credit' END"
    )
    columns = (
        "person_id, enrolment_id, kind, txn_kind, period_start, period_end, paid_on, base, "
        "employer_part, employee_part, individual, fiscal_subsidy, assistance_paid, "
        "account_credit, reference, description, cash, employee_pool, resident_pool, "
        "assistance, subsidy, personal, large_amount, critical"
    )
    _run(
        conn,
        f"INSERT INTO {SC} ({columns}) "
        f"SELECT sp.person_id, sp.enrolment_id, {kind_expr}, "
        "CASE sp.kind WHEN 'retiree' THEN 'retiree_credit' ELSE 'contribution' END, "
        "m.period_start, m.period_end, "
        "CASE WHEN m.paid_on < sp.start_date THEN sp.start_date ELSE m.paid_on END, "
        "sm.base, sm.employer_part, sm.employee_part, 0, 0, 0, sm.account_credit, "
        f"'contribution:' || {kind_expr} || ':' || CAST(sp.person_id AS TEXT) || ':' || m.iso, "
        "CASE sp.kind "
        "WHEN 'employer' THEN 'employee contribution ' || m.ym || ' of ' || sp.national_id "
        "|| ' (employer ' || sp.employer_code || ')' "
        "WHEN 'flexible' THEN 'flexible-worker contribution ' || m.ym || ' of ' || sp.national_id "
        "ELSE 'retiree personal-account credit ' || m.ym || ' of ' || sp.national_id END, "
        "sm.cash, sm.pool, 0, 0, 0, sm.personal, sm.large, 0 "
        f"FROM {SP} sp JOIN {SM} sm ON sm.psn_no = sp.psn_no JOIN {MONTHS} m ON m.grp = sm.grp "
        "WHERE sp.enrolment_id IS NOT NULL AND m.period_end >= sp.start_date",
    )
    _run(
        conn,
        f"INSERT INTO {SC} ({columns}) "
        f"SELECT sp.person_id, sp.enrolment_id, 'resident', 'contribution', {d('y0')}, "
        f"{d('y1')}, sp.res_paid_on, NULL, 0, 0, sp.res_individual, sp.res_subsidy, "
        "sp.res_assistance, 0, "
        "'contribution:resident:' || CAST(sp.person_id AS TEXT) || ':' || :y0, "
        "'resident contribution ' || :year || ' of ' || sp.national_id || sp.res_suffix, "
        "sp.res_individual - sp.res_assistance, 0, "
        "sp.res_critical - (sp.res_individual + sp.res_subsidy), "
        f"sp.res_assistance, sp.res_subsidy, 0, 0, -sp.res_critical FROM {SP} sp "
        "WHERE sp.kind = 'resident' AND sp.enrolment_id IS NOT NULL",
        y0=dt.date(ctx.year, 1, 1).isoformat(),
        y1=dt.date(ctx.year, 12, 31).isoformat(),
        year=str(ctx.year),
    )
    conn.exec_driver_sql(f"CREATE INDEX ix_{SC}_person ON {SC} (person_id)")
    if pg:
        conn.exec_driver_sql(f"ANALYZE {SC}")
    report.transactions += _run(
        conn,
        "INSERT INTO ledger_transactions (kind, occurred_on, description, reference) "
        f"SELECT txn_kind, paid_on, description, reference FROM {SC} "
        "ORDER BY person_id, period_start, kind",
    )
    _run(
        conn,
        f"UPDATE {SC} SET transaction_id = (SELECT t.id FROM ledger_transactions t "
        f"WHERE t.reference = {SC}.reference)",
    )
    area = ctx.region
    funds = {
        "cash": _fund_account(conn, AccountKind.CASH, area),
        "employee_pool": _fund_account(conn, AccountKind.EMPLOYEE_POOLING, area),
        "resident_pool": _fund_account(conn, AccountKind.RESIDENT_POOLING, area),
        "assistance": _fund_account(conn, AccountKind.MEDICAL_ASSISTANCE, area),
        "subsidy": _fund_account(conn, AccountKind.FISCAL_SUBSIDY_RECEIVABLE, area),
        "large_amount": _fund_account(conn, AccountKind.LARGE_AMOUNT, area),
        "critical": _fund_account(conn, AccountKind.CRITICAL_ILLNESS, area),
    }
    for leg in FUND_LEGS:
        report.postings += _run(
            conn,
            "INSERT INTO postings (transaction_id, account_id, amount) "
            f"SELECT transaction_id, :account, {leg} FROM {SC} WHERE {leg} <> 0 "
            "ORDER BY transaction_id",
            account=funds[leg],
        )
    report.postings += _run(
        conn,
        "INSERT INTO postings (transaction_id, account_id, amount) "
        f"SELECT c.transaction_id, a.id, c.personal FROM {SC} c "
        "JOIN accounts a ON a.person_id = c.person_id WHERE c.personal <> 0 "
        "ORDER BY c.transaction_id",
    )
    sums = conn.execute(
        text("SELECT " + ", ".join(f"COALESCE(SUM({leg}), 0)" for leg in FUND_LEGS) + f" FROM {SC}")
    ).one()
    moves = dict(zip(FUND_LEGS, sums, strict=True))
    for leg, account in sorted(funds.items(), key=lambda kv: kv[1]):  # one lock order
        if int(moves[leg]):
            _run(
                conn,
                "UPDATE accounts SET balance = balance + :d WHERE id = :id",
                d=int(moves[leg]),
                id=account,
            )
    _run(
        conn,
        f"UPDATE accounts SET balance = balance + (SELECT SUM(c.personal) FROM {SC} c "
        "WHERE c.person_id = accounts.person_id) WHERE kind = 'personal_account' AND person_id IN "
        f"(SELECT person_id FROM {SC} WHERE personal <> 0)",
    )
    _run(
        conn,
        "INSERT INTO contributions (person_id, enrolment_id, kind, period_start, period_end, "
        "base, employer_part, employee_part, individual, fiscal_subsidy, assistance_paid, "
        "account_credit, paid_on, transaction_id) "
        "SELECT person_id, enrolment_id, kind, period_start, period_end, base, employer_part, "
        "employee_part, individual, fiscal_subsidy, assistance_paid, account_credit, paid_on, "
        f"transaction_id FROM {SC} ORDER BY transaction_id",
    )
    for kind, n in conn.execute(text(f"SELECT kind, COUNT(*) FROM {SC} GROUP BY kind")).all():
        _add(report.contributions, str(kind), int(n))
    _run(
        conn,
        "INSERT INTO coverage_years (person_id, year, status, scheme, pooling_area, paid_on, "
        "continuous_years) "
        "SELECT person_id, :year, 'insured', "
        "CASE MIN(kind) WHEN 'resident' THEN 'resident' ELSE 'employee' END, :area, "
        "MIN(paid_on), 1 + COALESCE((SELECT c.continuous_years FROM coverage_years c "
        f"WHERE c.person_id = {SC}.person_id AND c.year = :prev AND c.status = 'insured'), 0) "
        f"FROM {SC} WHERE kind IN ('employee', 'flexible', 'resident') GROUP BY person_id",
        year=ctx.year,
        prev=ctx.year - 1,
        area=area,
    )
    bad = conn.execute(
        text(
            "SELECT p.transaction_id, SUM(p.amount) FROM postings p "
            f"WHERE p.transaction_id IN (SELECT transaction_id FROM {SC}) "
            "GROUP BY p.transaction_id HAVING SUM(p.amount) <> 0 OR COUNT(*) < 2"
        )
    ).first()
    if bad is not None:
        raise UnbalancedTransaction(f"#{bad[0]}", int(bad[1]))
    legless = conn.execute(
        text(
            f"SELECT COUNT(*) FROM {SC} c WHERE c.transaction_id IS NULL OR NOT EXISTS "
            "(SELECT 1 FROM postings p WHERE p.transaction_id = c.transaction_id)"
        )
    ).scalar_one()
    if int(legless):
        raise UnbalancedTransaction("(without postings)", 0)


def _openings(conn: Connection, ctx: _Context, d: Callable[[str], str]) -> None:
    """The personal accounts' opening balances: one transaction each, as
    ``services.ledger.open_personal_balance`` posts it (D opening_balance, C personal)."""
    report = ctx.report
    n = _run(
        conn,
        "INSERT INTO ledger_transactions (kind, occurred_on, description, reference) "
        f"SELECT 'opening_balance', {d('on')}, "
        "'opening balance of the personal account of ' || sp.national_id, "
        "'opening:personal:' || CAST(sp.person_id AS TEXT) "
        f"FROM {SP} sp WHERE sp.opening > 0 AND sp.enrolment_id IS NOT NULL ORDER BY sp.person_id",
        on=dt.date(ctx.year, 1, 1).isoformat(),
    )
    if not n:
        return
    equity = _fund_account(conn, AccountKind.OPENING_BALANCE, ctx.region)
    legs = (
        f"FROM {SP} sp JOIN ledger_transactions t "
        "ON t.reference = 'opening:personal:' || CAST(sp.person_id AS TEXT) "
    )
    report.postings += _run(
        conn,
        "INSERT INTO postings (transaction_id, account_id, amount) "
        f"SELECT t.id, :equity, sp.opening {legs} WHERE sp.opening > 0 ORDER BY t.id",
        equity=equity,
    )
    report.postings += _run(
        conn,
        "INSERT INTO postings (transaction_id, account_id, amount) "
        f"SELECT t.id, a.id, -sp.opening {legs} JOIN accounts a ON a.person_id = sp.person_id "
        "WHERE sp.opening > 0 ORDER BY t.id",
    )
    total = int(
        conn.execute(
            text(
                f"SELECT COALESCE(SUM(opening), 0) FROM {SP} "
                "WHERE opening > 0 AND enrolment_id IS NOT NULL"
            )
        ).scalar_one()
    )
    _run(conn, "UPDATE accounts SET balance = balance + :d WHERE id = :id", d=total, id=equity)
    _run(
        conn,
        f"UPDATE accounts SET balance = accounts.balance - sp.opening FROM {SP} sp "
        "WHERE sp.person_id = accounts.person_id AND accounts.kind = 'personal_account' "
        "AND sp.opening > 0 AND sp.enrolment_id IS NOT NULL",
    )
    report.transactions += n
    report.opening_balances += n
    report.opening_total += total
    bad = conn.execute(
        text(
            "SELECT t.id, COALESCE(SUM(p.amount), 0) FROM ledger_transactions t "
            "LEFT JOIN postings p ON p.transaction_id = t.id "
            f"WHERE t.reference IN (SELECT 'opening:personal:' || CAST(person_id AS TEXT) "
            f"FROM {SP} WHERE opening > 0) GROUP BY t.id "
            "HAVING COALESCE(SUM(p.amount), 0) <> 0 OR COUNT(p.id) < 2"
        )
    ).first()
    if bad is not None:
        raise UnbalancedTransaction(f"#{bad[0]}", int(bad[1]))


# --------------------------------------------------------------------------------- entry


def load_area(
    folder: str | Path,
    db: str | Engine | None = None,
    *,
    progress: Progress | None = None,
    migrate: bool = True,
    max_errors: int = 100,
) -> LoadReport:
    """Load the generated area in ``folder`` into the database ``db`` (URL or engine; default
    ``YIBAO_DATABASE_URL``, else ``./yibao.sqlite``). With ``migrate`` the schema is brought to
    the latest migration first."""
    folder = Path(folder)
    if not (folder / "meta.json").exists():
        raise AreaLoadRefused(f"{folder} has no meta.json (not a generated folder)")
    meta = read_manifest(folder)
    parts = sorted((folder / "persons").glob("part-*.parquet"))
    if not parts:
        raise AreaLoadRefused(f"{folder}/persons holds no part-*.parquet")
    engine = db if isinstance(db, Engine) else make_engine(db)
    url = engine.url.render_as_string(hide_password=False)
    if migrate:
        upgrade(url)
    region, year, persons = str(meta["region"]), int(meta["year"]), int(meta["persons"])
    report = LoadReport(
        folder=str(folder),
        database=make_url(url).render_as_string(hide_password=True),
        region=region,
        year=year,
        persons=persons,
        parts=len(parts),
    )
    ctx = _Context(region, year, persons, Rules(policy_for(region), year), report, max_errors)
    started = time.perf_counter()
    done = 0
    try:
        with engine.connect() as conn:
            for path in parts:
                n = pq.ParquetFile(path).metadata.num_rows
                with conn.begin():
                    inserted = _load_part(conn, path, ctx)
                    for table in TEMP_TABLES:
                        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
                if inserted < 0:
                    report.parts_skipped += 1
                else:
                    report.parts_loaded += 1
                    report.persons_inserted += inserted
                done += n
                if progress is not None:
                    progress(done, persons)
        allocation = ledger.allocate_assistance(UnitOfWork.for_engine(engine), region, year)
        report.assistance_allocation = allocation.amount
        if allocation.posted:
            report.transactions += 1
            report.postings += 2
    finally:
        if not isinstance(db, Engine):
            engine.dispose()
    report.seconds = time.perf_counter() - started
    return report
