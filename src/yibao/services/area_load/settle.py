"""A part's loaded visits settled (2207) through the one kernel (``kernel.settle.settle_claims``)
and stored in bulk with their ledger transactions, inside the part's database transaction.

Each person's visits are settled in date order (then claim order), carrying the person's
year-to-date state from one to the next, as 2207 would settle them one after another: round
``k`` settles the ``k``-th visit of every person who has one, in one kernel call, with the state
the rounds before left (the personal-account layers given as 0 and limited by the live balance,
as ``services.settlement.compute.prepare`` gives them). What each visit moved in the state is
its ``state_delta`` (what a reversal takes out), the state after the last round each person's
``benefit_states`` row.

The kernel's inputs are those of the generated area (``kernel.schema``): the visit's med type,
level, cross-region status and settlement date (the discharge date of a stay), its amounts
summed from its classified lines (``visits.build_lines``; the claim's own columns when the area
is loaded without lines), and the person's scheme, aid class, personal-account balance (the
generated ``account_balance``: what the account holds over the year), incentive raise and
entitlement date. No mutual-aid authorisation is loaded, so no account of another pays.

What is stored is what ``services.settlement.write.store_round`` stores for the same answer:
the settlement (its answer as JSON, ``settlement.answer.answer_json``) and its layers, one
balanced ledger transaction (fund layers, the personal account and the institution's counter
cash debited, the institution's medical fees credited), the accounts' balances and the funds'
month totals (``domain.funds.month_moves``) moved, the persons' year-to-date state. The ids are
``setl_id`` ``L`` + region + year + claim id, ``request_id`` ``area-load:`` + the visit's
``mdtrt_id``: a second load of the part is skipped with the part, so nothing is settled twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Connection, text

from yibao.domain.errors import UnbalancedTransaction
from yibao.domain.fees import LineSums
from yibao.domain.funds import MonthKey, month_moves
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.domain.settlement import SettlementAnswer, SettlementStatus
from yibao.kernel.arrow import persons_from_arrow
from yibao.kernel.schema import PERSON_COLUMNS
from yibao.kernel.settle import REASONS, WAITING, Claims, Persons, State, settle_claims, state_keys
from yibao.kernel.tables import DISEASE_NOT_CERTIFIED, MED_TYPES, SCHEME_INPUT, Tables
from yibao.policy.vocab import CROSS_REGIONS
from yibao.services import clock
from yibao.services.settlement.answer import answer_json
from yibao.services.settlement.compute import BALANCE_LAYERS, fund_layers
from yibao.services.settlement.write import FUND_ACCOUNTS
from yibao.store import bulk_write
from yibao.store.models import SETTLEMENT_AMOUNTS
from yibao.store.repositories.funds import add_month_totals
from yibao.store.sql import copy_rows

SETTLEMENT_COLUMNS = (
    "id",
    "setl_id",
    "request_id",
    "request_digest",
    "visit_id",
    "person_id",
    "pooling_area",
    "year",
    "settled_on",
    "scheme",
    "status",
    *SETTLEMENT_AMOUNTS,
    "admission_no",
    "reasons",
    "response",
    "state_delta",
    "transaction_id",
)
LAYER_COLUMNS = ("settlement_id", "seq", "fund_pay_type", "fund_name", "base", "payment")
STATE_COLUMNS = ("person_id", "year", "state", "settlements")
TRANSACTION_COLUMNS = ("id", "kind", "occurred_on", "description", "reference", "pooling_area")
POSTING_COLUMNS = ("transaction_id", "account_id", "amount")
#: the ledger kind of a settlement's transaction (as ``store_round`` posts it)
KIND = "settlement"
RESIDENT = SCHEME_INPUT["resident"]
#: what the answer says of an entitlement taken from the generated area
ENTITLEMENT_RULE = "as generated with the area (yibao synth): waiting period and entitlement"


@dataclass
class Visits:
    """A part's visits as the kernel takes them, in ``visits.Built`` order."""

    visit_id: np.ndarray
    mdtrt_id: list[str]
    claim_id: np.ndarray
    person: np.ndarray  # index into the part's persons (``visits.People`` order)
    person_id: np.ndarray
    day: np.ndarray  # settlement day (epoch days): the discharge date of a stay
    med_type: list[str]
    level: np.ndarray
    cross_region: list[str]
    institution: list[str]
    total: np.ndarray
    fully_self_paid: np.ndarray
    over_limit: np.ndarray
    category_b: np.ndarray
    lines: np.ndarray | None = None  # fee lines per visit (None: loaded without lines)


@dataclass
class Settled:
    """What ``settle_part`` stored."""

    settlements: int = 0
    transactions: int = 0
    postings: int = 0
    #: fen: medical fees, funds, personal accounts, cash
    amounts: dict[str, int] = field(default_factory=dict)


@dataclass
class PartPersons:
    """The part's persons as the kernel and the answers take them, in ``psn_no`` order (the
    order of ``visits.People``)."""

    kernel: Persons
    national_id: list[str]
    scheme: list[str]
    entitled_from: list[dt.date | None]  # the waiting period's end, else the enrolment's start
    #: the generated registered chronic condition's ICD-10 code (门诊慢特病), or None
    chronic: list[str | None] = field(default_factory=list)


def part_persons(persons_part: Path) -> PartPersons:
    """The kernel's person rows of a persons part (``kernel.schema``), and what an answer
    names of each person."""
    names = set(pq.read_schema(persons_part).names)
    extra = ["chronic_condition"] if "chronic_condition" in names else []
    table = pq.read_table(
        persons_part, columns=[*PERSON_COLUMNS, "national_id", "enrolled_on", *extra]
    )
    table = table.take(pa.array(np.argsort(table.column("psn_no").to_numpy(), kind="stable")))
    persons = persons_from_arrow(table)
    # no mutual-aid authorisation is loaded: no one else's account pays
    persons.mutual_aid_balance = np.zeros(table.num_rows, dtype=np.int64)
    entitled = pc.coalesce(table.column("entitled_from"), table.column("enrolled_on"))
    return PartPersons(
        persons,
        [str(x) for x in table.column("national_id").to_pylist()],
        [str(x) for x in table.column("scheme").to_pylist()],
        entitled.to_pylist(),
        table.column("chronic_condition").to_pylist() if extra else [None] * table.num_rows,
    )


def _codes(values: list[str], names: tuple[str, ...]) -> np.ndarray:
    index = pc.index_in(pa.array(values, pa.string()), value_set=pa.array(names))
    return np.asarray(index.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)


def settle_visits(
    tables: Tables, v: Visits, persons: Persons, disease: np.ndarray | None = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Settle every visit, each person's in (day, claim) order with the state carried: the
    kernel's columns per visit, each state key's move per visit, and the state after the last
    visit per person (rows of ``persons``)."""
    n = len(v.visit_id)
    keys = state_keys(tables)
    order = np.lexsort((v.claim_id, v.day, v.person))
    starts = np.r_[True, v.person[order][1:] != v.person[order][:-1]] if n else np.zeros(0, bool)
    run_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0)) if n else starts
    rank = np.arange(n) - run_start
    med = _codes(v.med_type, MED_TYPES)
    cross = _codes(v.cross_region, CROSS_REGIONS)
    held = {k: np.zeros(len(persons.scheme), dtype=np.int64) for k in keys}
    balance = persons.account_balance.copy()
    columns: dict[str, np.ndarray] = {}
    moves = {k: np.zeros(n, dtype=np.int64) for k in keys}
    for r in range(int(rank.max()) + 1 if n else 0):
        sel = order[rank == r]  # one visit of each person with an r-th one
        who = v.person[sel]
        m = len(sel)
        claims = Claims(
            person=np.arange(m, dtype=np.int64),
            date=v.day[sel],
            med_type=med[sel],
            level=v.level[sel] - 1,
            cross_region=cross[sel],
            total=v.total[sel],
            fully_self_paid=v.fully_self_paid[sel],
            over_limit=v.over_limit[sel],
            category_b=v.category_b[sel],
            # as 2207 settles them: the person's one certified disease (certify_conditions),
            # else DISEASE_NOT_CERTIFIED; no commercial product
            disease=(
                disease[who]
                if disease is not None
                else np.full(m, DISEASE_NOT_CERTIFIED, dtype=np.int64)
            ),
            listed_self_paid=np.zeros(m, dtype=np.int64),
        )
        round_persons = Persons(
            scheme=persons.scheme[who],
            aid_class=persons.aid_class[who],
            account_balance=balance[who],
            use_account=persons.use_account[who],
            mutual_aid_balance=persons.mutual_aid_balance[who],
            incentive_raise=persons.incentive_raise[who],
            entitled_from=persons.entitled_from[who],
            com_deductible=persons.com_deductible[who],
            com_ratio=persons.com_ratio[who],
            com_cap=persons.com_cap[who],
            com_covers=persons.com_covers[who],
        )
        given = {
            k: np.zeros(m, dtype=np.int64) if k in BALANCE_LAYERS else held[k][who] for k in keys
        }
        result = settle_claims(tables, claims, round_persons, State(dict(given)))
        for k in keys:
            moved = np.asarray(result.state.values[k]) - given[k]
            moves[k][sel] = moved
            held[k][who] += moved
        # what 2207 gives as the account balance (compute.prepare): 0 unless the account is used
        given_balance = np.where(
            round_persons.use_account & (round_persons.scheme != RESIDENT), balance[who], 0
        )
        balance[who] -= result.columns["acct_pay"]
        columns.setdefault("account_given", np.zeros(n, dtype=np.int64))[sel] = given_balance
        for name, values in result.columns.items():
            if name not in columns:
                columns[name] = np.zeros(n, dtype=np.int64)
            columns[name][sel] = values
    return columns, moves, held


def _digest(mdtrt_id: str, amounts: Mapping[str, int]) -> str:
    body = orjson.dumps([mdtrt_id, [amounts[a] for a in SETTLEMENT_AMOUNTS]])
    return hashlib.sha256(body).hexdigest()


def _reason_texts(flags: int, entitled_from: dt.date | None) -> tuple[str, ...]:
    reasons = [t for bit, t in REASONS.items() if flags & bit and bit != WAITING]
    if flags & WAITING:
        until = f" until {entitled_from.isoformat()}" if entitled_from is not None else ""
        reasons.insert(0, f"{REASONS[WAITING]}{until} ({ENTITLEMENT_RULE})")
    return tuple(reasons)


def _day(days: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(days))


@dataclass
class Accounts:
    """The ids of the accounts the part's settlements post to, opened on first use."""

    conn: Connection
    region: str
    ids: dict[AccountRef, int] = field(default_factory=dict)
    personal: dict[int, int] = field(default_factory=dict)  # person id → account id

    def of(self, ref: AccountRef) -> int:
        found = self.ids.get(ref)
        if found is None:
            found = self.ids[ref] = bulk_write.fund_account_id(self.conn, ref)
        return found

    def read_personal(self, person_ids: np.ndarray) -> None:
        if not len(person_ids):
            return
        rows = self.conn.execute(
            text(
                "SELECT person_id, id FROM accounts WHERE kind = :k "
                "AND person_id BETWEEN :lo AND :hi"
            ),
            {
                "k": AccountKind.PERSONAL_ACCOUNT.value,
                "lo": int(person_ids.min()),
                "hi": int(person_ids.max()),
            },
        )
        self.personal.update({int(p): int(a) for p, a in rows})


def certify_conditions(
    conn: Connection, v: Visits, people: PartPersons, region: str, year: int, tables: Tables
) -> np.ndarray:
    """Certify (门诊慢特病认定) each visiting person's generated chronic condition that is on
    the area's list, for the year (audited as the loader's), so that the service settles their
    chronic visits as the load does; the disease index of every person of the part
    (``DISEASE_NOT_CERTIFIED`` where none)."""
    index = np.array(
        [
            tables.chronic_codes.index(c) if c in tables.chronic_codes else DISEASE_NOT_CERTIFIED
            for c in people.chronic
        ],
        dtype=np.int64,
    )
    ids = dict(zip(v.person.tolist(), v.person_id.tolist(), strict=False))
    who = sorted(p for p in ids if index[p] >= 0)
    cert_ids = bulk_write.next_ids(conn, "chronic_certifications", len(who))
    action_ids = bulk_write.next_ids(conn, "chronic_actions", len(who))
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    now = clock.now()
    if who:
        conn.execute(
            text(
                "INSERT INTO chronic_certifications (id, person_id, area, disease, valid_from,"
                " valid_to, status) VALUES (:id, :person_id, :area, :disease, :first, :last,"
                " 'active')"
            ),
            [
                {
                    "id": c,
                    "person_id": int(ids[p]),
                    "area": region,
                    "disease": people.chronic[p],
                    "first": first,
                    "last": last,
                }
                for c, p in zip(cert_ids, who, strict=True)
            ],
        )
        conn.execute(
            text(
                "INSERT INTO chronic_actions (id, cert_id, action, actor, at, detail) VALUES"
                " (:id, :cert_id, 'certify', 'area-load', :at, :detail)"
            ),
            [
                {"id": a, "cert_id": c, "at": now, "detail": f"{first} .. {last} (generated)"}
                for a, c in zip(action_ids, cert_ids, strict=True)
            ],
        )
    return index


def settle_part(
    conn: Connection,
    v: Visits,
    people: PartPersons,
    region: str,
    year: int,
    tables: Tables,
) -> Settled:
    """Settle the part's visits (``settle_visits``) and store them, their layers, their ledger
    transactions and the persons' state; every transaction checked balanced."""
    out = Settled()
    persons, national_ids, schemes = people.kernel, people.national_id, people.scheme
    entitled = people.entitled_from
    n = len(v.visit_id)
    if not n:
        return out
    disease = certify_conditions(conn, v, people, region, year, tables)
    col, moves, held = settle_visits(tables, v, persons, disease)
    col["medfee_sumamt"] = v.total
    col["fulamt_ownpay_amt"] = v.fully_self_paid
    col["overlmt_selfpay"] = v.over_limit
    if col["acct_mulaid_pay"].any():  # no link loaded: the kernel was given no balance
        raise AssertionError("a loaded settlement paid from another's account")
    settlement_ids = bulk_write.next_ids(conn, "settlements", n)
    txn_ids = bulk_write.next_ids(conn, "ledger_transactions", n)
    accounts = Accounts(conn, region)
    accounts.read_personal(v.person_id[col["acct_pay"] > 0])
    fund_ids = {k: accounts.of(AccountRef.fund(k, region)) for k in set(FUND_ACCOUNTS.values())}
    fund_areas = {k: AccountRef.fund(k, region).pooling_area for k in fund_ids}
    amounts = {a: np.asarray(col[a], dtype=np.int64) for a in SETTLEMENT_AMOUNTS}
    settlements: list[tuple[Any, ...]] = []
    layer_rows: list[tuple[Any, ...]] = []
    txns: list[tuple[Any, ...]] = []
    postings: list[tuple[int, int, int]] = []
    balance_moves: dict[int, int] = {}
    month_legs: dict[tuple[int, int], dict[tuple[AccountKind, str | None], int]] = {}
    keys = list(moves)
    move_matrix = np.stack([moves[k] for k in keys]) if keys else np.zeros((0, n), np.int64)
    n_tiers = tables.n_tiers
    for i in range(n):
        p = int(v.person[i])
        scheme = schemes[p]
        day = _day(v.day[i])
        code = v.institution[i]
        amt = {a: int(amounts[a][i]) for a in SETTLEMENT_AMOUNTS}
        layers = fund_layers(col, i, scheme, n_tiers, bool(persons.aid_class[p]))
        setl_id = f"L{region}{year}{int(v.claim_id[i])}"
        lines = None
        if v.lines is not None:
            in_scope = amt["medfee_sumamt"] - amt["fulamt_ownpay_amt"] - amt["overlmt_selfpay"]
            lines = LineSums(
                int(v.lines[i]),
                amt["medfee_sumamt"],
                amt["fulamt_ownpay_amt"],
                amt["overlmt_selfpay"],
                in_scope,
                int(v.category_b[i]),
            )
        flags = int(col["reasons"][i])
        answer = SettlementAnswer(
            setl_id=setl_id,
            mdtrt_id=v.mdtrt_id[i],
            psn_no=national_ids[p],
            fixmedins_code=code,
            date=day,
            med_type=v.med_type[i],
            level=int(v.level[i]),
            cross_region=v.cross_region[i],
            scheme=scheme,
            pooling_area=region,
            admission_no=int(col["admission_no"][i]),
            amounts=amt,
            layers=layers,
            reasons=_reason_texts(flags, entitled[p]),
            entitled_from=entitled[p],
            entitlement_rule=ENTITLEMENT_RULE,
            incentive_raise=int(persons.incentive_raise[p]),
            acct_balance_after=int(col["account_given"][i]) - amt["acct_pay"],
            fee_lines=lines,
        )
        delta = {keys[k]: int(x) for k, x in enumerate(move_matrix[:, i]) if x}
        # the legs (signed: debit > 0), as ``services.settlement.write.postings``
        legs: list[tuple[int, int]] = []
        by_month = month_legs.setdefault((day.year, day.month), {})
        for layer in layers:
            if layer.payment:
                kind = FUND_ACCOUNTS[layer.fund_pay_type]
                legs.append((fund_ids[kind], layer.payment))
                key = (kind, fund_areas[kind])
                by_month[key] = by_month.get(key, 0) + layer.payment
        if amt["acct_pay"]:
            pid = int(v.person_id[i])
            if pid not in accounts.personal:
                accounts.personal[pid] = accounts.of(AccountRef.personal(pid))
            legs.append((accounts.personal[pid], amt["acct_pay"]))
            key = (AccountKind.PERSONAL_ACCOUNT, None)
            by_month[key] = by_month.get(key, 0) + amt["acct_pay"]
        if amt["psn_cash_pay"]:
            ref = AccountRef.of_institution(AccountKind.INSTITUTION_COLLECTED, code)
            legs.append((accounts.of(ref), amt["psn_cash_pay"]))
        if amt["medfee_sumamt"]:
            ref = AccountRef.of_institution(AccountKind.INSTITUTION_PAYABLE, code)
            legs.append((accounts.of(ref), -amt["medfee_sumamt"]))
        txn: int | None = None
        if legs:
            txn = txn_ids[out.transactions]
            out.transactions += 1
            txns.append(
                (
                    txn,
                    KIND,
                    day.isoformat(),
                    f"settlement {setl_id} of {national_ids[p]} at {code} (area load)",
                    f"settlement:{setl_id}",
                    region,
                )
            )
            for account, amount in legs:
                postings.append((txn, account, amount))
                balance_moves[account] = balance_moves.get(account, 0) + amount
        sid = settlement_ids[i]
        settlements.append(
            (
                sid,
                setl_id,
                f"area-load:{v.mdtrt_id[i]}",
                _digest(v.mdtrt_id[i], amt),
                int(v.visit_id[i]),
                int(v.person_id[i]),
                region,
                year,
                day.isoformat(),
                scheme,
                SettlementStatus.SETTLED.value,
                *(amt[a] for a in SETTLEMENT_AMOUNTS),
                answer.admission_no,
                flags,
                orjson.dumps(answer_json(answer)).decode(),
                orjson.dumps(delta).decode(),
                txn,
            )
        )
        layer_rows.extend(
            (sid, seq, ly.fund_pay_type, ly.fund_name, ly.base, ly.payment)
            for seq, ly in enumerate(layers)
        )
    counts = np.bincount(v.person, minlength=len(persons.scheme))
    settled = np.flatnonzero(counts)
    person_id_of = np.zeros(len(persons.scheme), dtype=np.int64)
    person_id_of[v.person] = v.person_id
    states = [
        (
            int(person_id_of[p]),
            year,
            orjson.dumps({k: int(held[k][p]) for k in keys if held[k][p]}).decode(),
            int(counts[p]),
        )
        for p in settled
    ]
    copy_rows(conn, "ledger_transactions", TRANSACTION_COLUMNS, txns)
    copy_rows(conn, "postings", POSTING_COLUMNS, postings)
    copy_rows(conn, "settlements", SETTLEMENT_COLUMNS, settlements)
    copy_rows(conn, "settlement_layers", LAYER_COLUMNS, layer_rows)
    copy_rows(conn, "benefit_states", STATE_COLUMNS, states)
    bulk_write.move_balances(conn, balance_moves)
    months: dict[MonthKey, int] = {}
    for (y, m), legs_ in month_legs.items():
        flat = [(kind, area, amount) for (kind, area), amount in legs_.items()]
        for month_key, amount in month_moves(KIND, dt.date(y, m, 1), flat, region).items():
            months[month_key] = months.get(month_key, 0) + amount
    add_month_totals(conn, months)
    if txns:
        bad = bulk_write.unbalanced_between(conn, txns[0][0], txns[-1][0])
        if bad is not None:
            raise UnbalancedTransaction(f"#{bad[0]}", bad[1])
    out.settlements = n
    out.postings = len(postings)
    out.amounts = {
        "medfee_sumamt": int(amounts["medfee_sumamt"].sum()),
        "fund_pay_sumamt": int(amounts["fund_pay_sumamt"].sum()),
        "acct_pay": int(amounts["acct_pay"].sum()),
        "psn_cash_pay": int(amounts["psn_cash_pay"].sum()),
    }
    return out
