"""The engine seam: a slice of whole households settled under every scenario at once.

``settle_households(claims, persons, scenarios)`` takes Arrow tables of claims and their persons
(whole households, claims in any order: it sorts) and returns a small Arrow table, one row per
person, of the year's sums under each scenario (baseline first, then each reform): what the
aggregation (``simulation.aggregate``) reads. The local engine (``simulation.local``) calls it
per area part (through ``part_input`` and ``settle_part``, so an area's Arrow columns become
kernel arrays once per part, shared by every scenario); the Spark engine calls the same function
inside ``mapInArrow`` over a DataFrame partitioned by household.

Every claim goes through the one kernel (``kernel.settle.settle_claims``), in date order per
person with the year-to-date state; contributions through ``simulation.contributions``.

Output columns (``output_schema(k)`` for k scenarios): ``psn_no``, ``household_id``,
``category`` (the insured category: employee | flexible | retiree | resident),
``household_income`` (int64 fen, the household's annual disposable income; null when the area
has none), ``claims``, ``total`` (fen billed), then per scenario ``s<k>_<amount>`` for every
``SUMS`` amount, and for each reform (k ≥ 1) ``s<k>_changed``: whether any of the person's
claims or their own contribution came out different from the baseline. The baseline also
carries ``s0_inpatient_fund_<level>`` and ``s0_inpatient_scope_<level>`` (level 1, 2, 3): the
person's inpatient claims' insurance funds' payments (hifp + hifmi + hifob) and policy-scope
amount (``inscp_scp_amt``) at institutions of that level, what the calibration table's fund
payment ratios are made of (``synth.calibration``, ``INPATIENT``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yibao.batch.simulation.contributions import (
    AMOUNTS,
    CATEGORIES,
    ContributionRates,
    compile_rates,
    person_year,
)
from yibao.kernel.arrow import claims_from_arrow, in_order, persons_from_arrow
from yibao.kernel.schema import CLAIM_COLUMNS, PERSON_COLUMNS
from yibao.kernel.segments import I64
from yibao.kernel.settle import Claims, Persons, settle_claims
from yibao.kernel.tables import Tables, compile_tables
from yibao.policy import Policy
from yibao.policy.vocab import KERNEL_AMOUNTS, MED_TYPES
from yibao.synth.calibration import INSURANCE_FUNDS

#: the kernel's payments summed per person: each fund's, their sum, the account's, mutual aid's
#: and cash (``policy.vocab.KERNEL_AMOUNTS`` from ``hifp_pay``, but the person's part, which is
#: account + mutual aid + cash)
PAYMENTS = tuple(
    a for a in KERNEL_AMOUNTS[KERNEL_AMOUNTS.index("hifp_pay") :] if a != "psn_part_amt"
)
#: per person and scenario: contributions, then payments
SUMS = (*AMOUNTS, *PAYMENTS)
#: a claim whose any of these differs from the baseline's changed
COMPARED = ("fund_pay_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")
#: the persons' columns the simulation reads beside the kernel's
EXTRA_PERSON_COLUMNS = ("household_id", "wage", "contribution_base", "enrolled_on")
INCOME = "household_income"
LEVELS = (1, 2, 3)  # institution level: primary or below, secondary, tertiary
#: per person, baseline only: inpatient insurance funds' payments and policy-scope amount by
#: institution level (``inpatient_by_level`` reads their sums back)
INPATIENT = tuple(f"inpatient_{what}_{lv}" for what in ("fund", "scope") for lv in LEVELS)
_INPATIENT_CODE = MED_TYPES.index("inpatient")


@dataclass(frozen=True)
class Scenario:
    """A named policy compiled for a coverage year: the kernel's tables and the contribution
    rates (picklable: a Spark executor receives it)."""

    name: str
    tables: Tables
    rates: ContributionRates


def scenario(name: str, policy: Policy, year: int) -> Scenario:
    return Scenario(name, compile_tables(policy, year), compile_rates(policy, year))


@dataclass
class PartInput:
    """A slice's Arrow columns as arrays, once, for every scenario."""

    claims: Claims  # sorted by (person, date); ``person``: segment number
    persons: Persons  # one row per segment (persons with claims)
    rows: I64  # each segment's row in the persons' arrays below
    psn_no: I64  # every person of the slice, sorted
    household_id: I64
    category: I64
    aid_class: I64
    wage: I64
    base: I64
    first_month: I64
    income: I64 | None  # None: the area has no household income
    total: I64  # per person, fen billed


def _ints(column: pa.ChunkedArray, null: int) -> I64:
    filled = pc.fill_null(column, null) if column.null_count else column
    return np.asarray(filled.to_numpy(), dtype=np.int64)


def part_input(claims: pa.Table, persons: pa.Table, year: int) -> PartInput:
    """Arrow → kernel arrays: claims sorted by (psn_no, date), persons by psn_no."""
    c = claims_from_arrow(claims)
    if not in_order(c.person, c.date):
        order = np.lexsort((c.date, c.person))
        claims = claims.take(pa.array(order))
        c = claims_from_arrow(claims)
    psn = np.asarray(persons["psn_no"].to_numpy(), dtype=np.int64)
    if len(psn) > 1 and not np.all(psn[1:] > psn[:-1]):
        persons = persons.take(pa.array(np.argsort(psn, kind="stable")))
        psn = np.asarray(persons["psn_no"].to_numpy(), dtype=np.int64)
        if np.any(psn[1:] == psn[:-1]):
            raise ValueError("persons: a psn_no appears twice")
    start = (dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days
    end = (dt.date(year, 12, 31) - dt.date(1970, 1, 1)).days
    if len(c) and (c.date.min() < start or c.date.max() > end):
        bad = c.date[(c.date < start) | (c.date > end)][0]
        raise ValueError(
            f"claims: date {dt.date(1970, 1, 1) + dt.timedelta(days=int(bad))} is not in {year}"
        )
    first = np.empty(len(c), dtype=np.bool_)
    first[:1] = True
    np.not_equal(c.person[1:], c.person[:-1], out=first[1:])
    present = c.person[first]
    rows = np.searchsorted(psn, present)
    if len(present) and (
        rows[-1] >= len(psn) or np.any(psn[np.minimum(rows, len(psn) - 1)] != present)
    ):
        raise ValueError("persons: a claim's psn_no has no person row")
    every = persons_from_arrow(persons)
    seg = Persons(**{k: v[rows] for k, v in vars(every).items()})
    c.person = np.cumsum(first, dtype=np.int64) - 1
    starts = np.flatnonzero(first)
    total = np.zeros(len(psn), dtype=np.int64)
    if len(c):
        total[rows] = np.add.reduceat(c.total, starts)
    category = pc.index_in(persons["scheme"], value_set=pa.array(CATEGORIES))
    enrolled = pc.cast(persons["enrolled_on"], pa.int32())
    enrolled_days = _ints(enrolled, start)
    # the first month contributed for: the month of enrolment in the year (0 before it)
    month = np.asarray(pc.month(persons["enrolled_on"]).fill_null(1).to_numpy(), dtype=np.int64) - 1
    first_month = np.where(enrolled_days < start, 0, month)
    first_month[enrolled_days > end] = 12  # enrolled after the year: none
    income = _ints(persons[INCOME], -1) if INCOME in persons.column_names else None
    return PartInput(
        claims=c,
        persons=seg,
        rows=rows,
        psn_no=psn,
        household_id=_ints(persons["household_id"], -1),
        category=np.asarray(category.to_numpy(zero_copy_only=False), dtype=np.int64),
        aid_class=every.aid_class,
        wage=_ints(persons["wage"], -1),
        base=_ints(persons["contribution_base"], -1),
        first_month=first_month,
        income=income,
        total=total,
    )


def _settled(part: PartInput, s: Scenario, inpatient: bool = False) -> tuple[I64, list[I64]]:
    """One scenario's settlement of the slice: per-person sums of ``PAYMENTS`` (rows in that
    order, then ``INPATIENT`` when ``inpatient``) and the claims' ``COMPARED`` columns."""
    from yibao.batch.simulation.sums import person_sums

    c = part.claims
    result = settle_claims(s.tables, c, part.persons, None, explain=False)
    n = len(part.psn_no)
    summed = person_sums(c.person, part.rows, [result.columns[p] for p in PAYMENTS], n)
    if inpatient:  # only the inpatient claims, summed per (person, level)
        at = np.flatnonzero(c.med_type == _INPATIENT_CODE)
        fund = np.zeros(len(at), dtype=np.int64)
        for f in INSURANCE_FUNDS:
            fund += result.columns[f][at]
        scope = np.asarray(result.columns["inscp_scp_amt"][at], dtype=np.int64)
        cell = part.rows[c.person[at]] * len(LEVELS) + c.level[at]
        by_level = person_sums(cell, np.arange(n * len(LEVELS)), [fund, scope], n * len(LEVELS))
        # rows: fund at levels 1, 2, 3, then scope at levels 1, 2, 3 (``INPATIENT``)
        rows = by_level.reshape(2, n, len(LEVELS)).transpose(0, 2, 1).reshape(len(INPATIENT), n)
        summed = np.concatenate([summed, rows])
    return summed, [result.columns[name] for name in COMPARED]


def inpatient_by_level(
    sums: Mapping[str, Sequence[int]], groups: Sequence[str]
) -> dict[tuple[str, int], tuple[int, int]]:
    """{(scheme group, level): (insurance funds' payments, policy-scope amount)}, fen, from the
    ``INPATIENT`` amounts summed per scheme group (``sums[name][g]`` for ``groups[g]``): the
    form ``synth.calibration.calibration_table`` takes."""
    return {
        (group, lv): (sums[f"inpatient_fund_{lv}"][g], sums[f"inpatient_scope_{lv}"][g])
        for g, group in enumerate(groups)
        for lv in LEVELS
    }


def settle_part(
    part: PartInput, scenarios: Sequence[Scenario], pool: Executor | None = None
) -> dict[str, I64]:
    """Per person of the slice (``part.psn_no`` order): ``s<k>_<amount>`` for every scenario and
    ``s<k>_changed`` (0 or 1) for every reform. Scenarios with the same contribution rates share
    one computation of the contributions. With a ``pool`` the scenarios settle at once on its
    threads (the kernel runs without the GIL): an area of one part uses every core."""
    from yibao.batch.simulation.sums import changed_persons

    if pool is not None:
        futures = [pool.submit(_settled, part, s, k == 0) for k, s in enumerate(scenarios)]
        settled = [f.result() for f in futures]
    else:
        settled = [_settled(part, s, k == 0) for k, s in enumerate(scenarios)]
    c = part.claims
    out: dict[str, I64] = {}
    years: dict[ContributionRates, dict[str, I64]] = {}
    for k, (s, (summed, compared)) in enumerate(zip(scenarios, settled, strict=True)):
        contributions = years.get(s.rates)
        if contributions is None:
            contributions = years[s.rates] = person_year(
                s.rates, part.category, part.aid_class, part.wage, part.base, part.first_month
            )
        for name, values in contributions.items():
            out[f"s{k}_{name}"] = values
        for j, name in enumerate(PAYMENTS if k else (*PAYMENTS, *INPATIENT)):
            out[f"s{k}_{name}"] = summed[j]
        if k == 0:
            continue
        own, base_own = contributions["person_contributions"], out["s0_person_contributions"]
        changed = (own != base_own).astype(np.int64)
        changed_persons(c.person, part.rows, compared, settled[0][1], changed)
        out[f"s{k}_changed"] = changed
    return out


def output_schema(scenarios: int) -> pa.Schema:
    fields = [
        ("psn_no", pa.int64()),
        ("household_id", pa.int64()),
        ("category", pa.string()),
        (INCOME, pa.int64()),
        ("claims", pa.int64()),
        ("total", pa.int64()),
    ]
    for k in range(scenarios):
        fields += [(f"s{k}_{name}", pa.int64()) for name in SUMS]
        if k:
            fields.append((f"s{k}_changed", pa.bool_()))
        else:
            fields += [(f"s0_{name}", pa.int64()) for name in INPATIENT]
    return pa.schema(fields)


def person_arrays(part: PartInput, sums: dict[str, I64]) -> dict[str, I64]:
    """The per-person columns of the seam's table as arrays (``category`` as codes; ``income``
    negative where none)."""
    n = len(part.psn_no)
    claims = np.zeros(n, dtype=np.int64)
    if len(part.claims):
        claims[part.rows] = np.bincount(part.claims.person, minlength=len(part.rows))
    return {
        "psn_no": part.psn_no,
        "household_id": part.household_id,
        "claims": claims,
        "total": part.total,
        **sums,
    }


def person_table(part: PartInput, sums: dict[str, I64], scenarios: int) -> pa.Table:
    """The per-person sums as the seam's Arrow table."""
    cols = person_arrays(part, sums)
    n = len(part.psn_no)
    income = (
        pa.array(part.income, mask=part.income < 0)
        if part.income is not None
        else pa.nulls(n, pa.int64())
    )
    columns: dict[str, pa.Array] = {
        "psn_no": pa.array(cols["psn_no"]),
        "household_id": pa.array(cols["household_id"]),
        "category": pa.array(CATEGORIES, pa.string()).take(pa.array(part.category)),
        INCOME: income,
        "claims": pa.array(cols["claims"]),
        "total": pa.array(cols["total"]),
    }
    for k in range(scenarios):
        for name in SUMS:
            columns[f"s{k}_{name}"] = pa.array(sums[f"s{k}_{name}"])
        if k:
            columns[f"s{k}_changed"] = pa.array(sums[f"s{k}_changed"].astype(np.bool_))
        else:
            for name in INPATIENT:
                columns[f"s0_{name}"] = pa.array(sums[f"s0_{name}"])
    return pa.Table.from_pydict(columns, schema=output_schema(scenarios))


def settle_households(
    claims: pa.Table, persons: pa.Table, scenarios: Sequence[Scenario], year: int
) -> pa.Table:
    """THE SEAM: whole households' claims (any order) and persons (columns
    ``kernel.schema.PERSON_COLUMNS`` + ``EXTRA_PERSON_COLUMNS``, optionally
    ``household_income``) settled under every scenario (baseline first); one row per person
    (``output_schema``)."""
    part = part_input(claims, persons, year)
    return person_table(part, settle_part(part, scenarios), len(scenarios))


#: the columns an area's parts are read with
CLAIM_INPUT = CLAIM_COLUMNS
PERSON_INPUT = (*PERSON_COLUMNS, *EXTRA_PERSON_COLUMNS)
