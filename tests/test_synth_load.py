"""Loading a generated area into the registry (``yibao.services.area_load``), on SQLite and
PostgreSQL, and ``yibao demo`` on a generated area."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403
from yibao.domain.registry import RelationKind, newborn_until
from yibao.rules import contributions as rules
from yibao.services import contributions, enrolment, ledger, registry, yearend
from yibao.services.area_load import AreaLoadRefused, load_area
from yibao.services.area_load.generated import (
    KIND_OF_SCHEME,
    PAY_DAY,
    employer_code_of,
    half_up,
    opening_balance,
    past_years,
    resident_paid_on,
)
from yibao.services.common import policy_for
from yibao.services.payments import month_bounds
from yibao.store.migrate import upgrade
from yibao.store.uow import UnitOfWork
from yibao.synth import SynthConfig, generate

REGION, YEAR, PERSONS, CHUNK = "360100", 2025, 300, 120


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("area")
    generate(out, SynthConfig(REGION, PERSONS, YEAR, seed=11, chunk_size=CHUNK))
    return out


def _persons(area: Path, parts: int | None = None) -> pa.Table:
    files = sorted((area / "persons").glob("part-*.parquet"))[:parts]
    return pa.concat_tables([pq.read_table(f) for f in files])


def _scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_load_area(engine: Engine, uow: UnitOfWork, area: Path) -> None:
    report = load_area(area, engine, migrate=False, settlements=False)
    persons = _persons(area)
    assert report.parts == report.parts_loaded == 3
    assert report.persons_inserted == PERSONS and report.invalid == 0

    # one person row per generated person, in households
    with engine.connect() as conn:
        ids = {r[0] for r in conn.execute(text("SELECT national_id FROM persons"))}
    assert ids == set(persons.column("national_id").to_pylist())
    assert _scalar(engine, "SELECT COUNT(*) FROM persons WHERE household_id IS NULL") == 0
    assert _scalar(engine, "SELECT COUNT(*) FROM persons WHERE region <> '360100'") == 0
    households = len(set(persons.column("household_id").to_pylist()))
    assert _scalar(engine, "SELECT COUNT(*) FROM households") == households

    # every person in exactly one active scheme, of the generated kind
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.national_id, e.kind, e.start_date, e.pooling_area, COUNT(*) "
                "FROM enrolments e JOIN persons p ON p.id = e.person_id "
                "WHERE e.status = 'active' GROUP BY p.national_id, e.kind, e.start_date, "
                "e.pooling_area"
            )
        ).all()
    assert len(rows) == PERSONS and all(r[4] == 1 for r in rows)
    assert _scalar(engine, "SELECT COUNT(*) FROM enrolments") == PERSONS
    generated = {
        r["national_id"]: (KIND_OF_SCHEME[r["scheme"]], r["enrolled_on"])
        for r in persons.select(["national_id", "scheme", "enrolled_on"]).to_pylist()
    }
    for nid_, kind, start, area_code, _ in rows:
        start = start if isinstance(start, dt.date) else dt.date.fromisoformat(start)
        assert (kind, start) == generated[nid_] and area_code == REGION
    assert _scalar(engine, "SELECT COUNT(*) FROM enrolment_events WHERE kind = 'enrol'") == PERSONS

    # close relations: each member with the head, both ways
    members = sum(1 for r in persons.column("relation").to_pylist() if r != "head")
    with engine.connect() as conn:
        relations = {
            (a, b): RelationKind(k)
            for a, b, k in conn.execute(text("SELECT person_id, relative_id, kind FROM relations"))
        }
    assert len(relations) >= 2 * members > 0
    for (a, b), kind in relations.items():
        assert relations[(b, a)] is kind.reciprocal

    # special groups
    groups = Counter(g for gs in persons.column("groups").to_pylist() for g in gs)
    aid = Counter(a for a in persons.column("assistance_class").to_pylist() if a)
    with engine.connect() as conn:
        stored = Counter(
            dict(
                conn.execute(text("SELECT kind, COUNT(*) FROM special_groups GROUP BY kind")).all()
            )
        )
    assert stored == Counter({"newborn": groups["newborn"], "student": groups["student"], **aid})
    assert groups["student"] > 0 and sum(aid.values()) > 0

    # contributions: 12 months (fewer for joiners) of employees and retirees, 1 resident year
    schemes = Counter(persons.column("scheme").to_pylist())
    assert report.contributions["resident"] == schemes["resident"]
    assert report.contributions["retiree_credit"] == 12 * schemes["retiree"]
    assert 0 < report.contributions["employee"] <= 12 * schemes["employee"]
    assert _scalar(engine, "SELECT COUNT(*) FROM contributions") == sum(
        report.contributions.values()
    )
    insured = PERSONS - schemes["retiree"]
    covered = f"SELECT COUNT(*) FROM coverage_years WHERE year = {YEAR} AND status = 'insured'"
    assert _scalar(engine, covered) == insured
    check = ledger.reconcile(uow)
    assert check.ok, check.as_dict()
    # the contributions, the opening balances and the year's allocation to medical assistance
    assert report.opening_balances > 0
    assert (
        check.transactions
        == report.transactions
        == sum(report.contributions.values()) + report.opening_balances + 1
    )
    assert check.postings == report.postings
    funds = {line.kind: line.balance for line in ledger.funds_report(uow, REGION).lines}
    assert funds["resident_pooling"] > 0 and funds["employee_pooling"] > 0 and funds["cash"] > 0


def test_loading_twice_is_idempotent(engine: Engine, uow: UnitOfWork, area: Path) -> None:
    load_area(area, engine, migrate=False, settlements=False)
    counts = [
        _scalar(engine, f"SELECT COUNT(*) FROM {t}")
        for t in ("persons", "enrolments", "contributions", "postings", "relations")
    ]
    again = load_area(area, engine, migrate=False, settlements=False)
    assert again.parts_skipped == 3 and again.parts_loaded == 0 and again.persons_inserted == 0
    assert counts == [
        _scalar(engine, f"SELECT COUNT(*) FROM {t}")
        for t in ("persons", "enrolments", "contributions", "postings", "relations")
    ]
    assert ledger.reconcile(uow).ok


def test_persons_registered_elsewhere_refuse_the_part(uow: UnitOfWork, area: Path) -> None:
    first = _persons(area, 1).slice(0, 1).to_pylist()[0]
    registry.add_person(uow, first["national_id"], first["name"])
    with pytest.raises(AreaLoadRefused, match="1 of its 120 persons are already registered"):
        load_area(area, uow.session_factory.kw["bind"], migrate=False, settlements=False)


# ------------------------------------------------------ the same rows as the services write


def _replay_with_services(area: Path, url: str) -> None:
    """Register, enrol and pay the first part's persons one call at a time via the services."""
    engine_uow = UnitOfWork.for_url(url)
    persons = _persons(area, 1)
    policy = policy_for(REGION)
    for p in persons.to_pylist():
        nid_ = p["national_id"]
        registry.add_person(
            engine_uow, nid_, p["name"], household=str(p["household_id"]), region=REGION
        )
        if "newborn" in p["groups"]:
            birth = p["birth_date"]
            registry.add_group(engine_uow, nid_, "newborn", birth, newborn_until(birth))
        if "student" in p["groups"]:
            registry.add_group(
                engine_uow, nid_, "student", dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)
            )
        if p["assistance_class"]:
            start = max(p["birth_date"], dt.date(YEAR - 1, 1, 1))
            registry.add_group(engine_uow, nid_, p["assistance_class"], start)
        kind = KIND_OF_SCHEME[p["scheme"]]
        start = p["enrolled_on"]
        employer = employer_code_of(REGION, p["psn_no"], PERSONS) if kind == "employer" else None
        # a generated retiree has no contribution history: taken as reaching the minimum years
        deemed = 25 * 12 if kind == "retiree" else 0
        enrolment.enrol(
            engine_uow, nid_, kind, REGION, start, employer_code=employer, deemed_months=deemed
        )
        past, before = past_years(
            p["coverage_history"],
            YEAR,
            p["scheme"],
            p["contribution_years"],
            p["continuous_years"],
            p["repaired_years"],
            p["zero_claim_years"],
        )
        yearend.record_history(engine_uow, nid_, REGION, past, before)
        if kind == "resident":
            paid = resident_paid_on(p["psn_no"], start, YEAR)
            contributions.pay_resident(engine_uow, nid_, YEAR, paid)
            continue
        credits = 0
        for month in range(1, 13):
            first = dt.date(YEAR, month, 1)
            if month_bounds(first)[1] < start:
                continue
            paid = max(first.replace(day=PAY_DAY), start)
            if kind == "employer":
                wage = half_up(p["wage"], 12)
                record = contributions.pay_employee(engine_uow, nid_, first, wage, paid)
            elif kind == "flexible":
                base = rules.monthly_base_range(policy, first).clamp(
                    half_up(p["contribution_base"], 12)
                )
                record = contributions.pay_flexible(engine_uow, nid_, first, base, paid)
            else:
                record = contributions.credit_retiree(engine_uow, nid_, first, paid)
            credits += record.account_credit or 0
        opening = opening_balance(p["account_balance"], credits, start, YEAR)
        if opening:
            ledger.open_personal_balance(
                engine_uow, nid_, opening, dt.date(YEAR, 1, 1), area=REGION
            )


def _str(value: object) -> str:
    return str(int(value)) if isinstance(value, bool) else str(value)


def _rows(engine: Engine, national_ids: set[str]) -> dict[str, Any]:
    """Everything written for these persons, with database ids replaced by national IDs."""
    with engine.connect() as conn:
        nid_of = {
            pid: n
            for pid, n in conn.execute(text("SELECT id, national_id FROM persons"))
            if n in national_ids
        }

        def rows(sql: str) -> list[tuple[Any, ...]]:
            out = []
            for row in conn.execute(text(sql)):
                if row[0] in nid_of:
                    out.append((nid_of[row[0]], *(_str(v) for v in row[1:])))
            return sorted(out)

        def personal(code: str) -> str:
            return (
                f"personal:{nid_of[int(code.split(':')[1])]}"
                if code.startswith("personal:")
                else code
            )

        txns = []
        for row in conn.execute(
            text(
                "SELECT c.person_id, c.kind, c.period_start, c.period_end, c.paid_on, c.base, "
                "c.employer_part, c.employee_part, c.individual, c.fiscal_subsidy, "
                "c.assistance_paid, c.account_credit, c.mutual_aid_link_id, t.kind, "
                "t.occurred_on, t.description, t.reference, t.id FROM contributions c "
                "JOIN ledger_transactions t ON t.id = c.transaction_id"
            )
        ):
            if row[0] not in nid_of:
                continue
            legs = sorted(
                (personal(code), int(amount))
                for code, amount in conn.execute(
                    text(
                        "SELECT a.code, p.amount FROM postings p JOIN accounts a "
                        "ON a.id = p.account_id WHERE p.transaction_id = :t"
                    ),
                    {"t": row[-1]},
                )
            )
            reference = str(row[16]).replace(f":{row[0]}:", f":{nid_of[row[0]]}:")
            txns.append((nid_of[row[0]], *(_str(v) for v in row[1:16]), reference, legs))
        openings = []
        for tid, kind, on, description, reference in conn.execute(
            text(
                "SELECT id, kind, occurred_on, description, reference FROM ledger_transactions "
                "WHERE reference LIKE 'opening:personal:%'"
            )
        ):
            pid = int(str(reference).rsplit(":", 1)[1])
            if pid not in nid_of:
                continue
            legs = sorted(
                (personal(code), int(amount))
                for code, amount in conn.execute(
                    text(
                        "SELECT a.code, p.amount FROM postings p JOIN accounts a "
                        "ON a.id = p.account_id WHERE p.transaction_id = :t"
                    ),
                    {"t": tid},
                )
            )
            openings.append((nid_of[pid], kind, _str(on), description, legs))
        accounts = sorted(
            (personal(code), int(balance))
            for code, balance, pid in conn.execute(
                text("SELECT code, balance, person_id FROM accounts")
            )
            if pid in nid_of
        )
        return {
            "persons": rows("SELECT id, name, sex, birth_date, phone, region FROM persons"),
            "households": rows(
                "SELECT p.id, h.code, h.region FROM persons p JOIN households h "
                "ON h.id = p.household_id"
            ),
            "groups": rows("SELECT person_id, kind, valid_from, valid_to FROM special_groups"),
            "enrolments": rows(
                "SELECT person_id, scheme, kind, pooling_area, employer_code, start_date, "
                "end_date, status, suspended_on, end_reason, previous_id, "
                "carried_employee_months, carried_resident_years FROM enrolments"
            ),
            "events": rows(
                "SELECT e.person_id, v.kind, v.on_date, v.detail FROM enrolment_events v "
                "JOIN enrolments e ON e.id = v.enrolment_id"
            ),
            "coverage": rows(
                "SELECT person_id, year, status, scheme, pooling_area, paid_on, repaired, "
                "fund_paid, continuous_years, zero_claim, closed FROM coverage_years"
            ),
            "contributions": sorted(txns, key=repr),
            "openings": sorted(openings, key=repr),
            "personal_accounts": accounts,
        }


@pytest.fixture(scope="module")
def by_services(area: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('services') / 'yibao.sqlite'}"
    upgrade(url)
    _replay_with_services(area, url)
    engine = UnitOfWork.for_url(url).session_factory.kw["bind"]
    return _rows(engine, set(_persons(area, 1).column("national_id").to_pylist()))


def test_rows_equal_those_the_services_write(
    engine: Engine, area: Path, by_services: dict[str, Any]
) -> None:
    load_area(area, engine, migrate=False, settlements=False)
    loaded = _rows(engine, set(_persons(area, 1).column("national_id").to_pylist()))
    assert len(by_services["contributions"]) > 400 and len(by_services["openings"]) > 10
    assert sum(1 for c in by_services["coverage"] if int(c[1]) < YEAR) > 400
    for key, expected in by_services.items():
        assert loaded[key] == expected, key


def test_an_area_of_a_past_year_loads_priced_from_that_years_figures(
    engine: Engine, tmp_path: Path
) -> None:
    # 2012: a coverage history back to 2002 and the year's contributions priced from the 2012
    # national figures: resident individual 60 + subsidy 240 yuan (NCMS2012); employee base
    # between 60% and 300% of the 2011 average wage, 41799 yuan (NBS-WAGE), a twelfth a month.
    out = tmp_path / "area2012"
    generate(out, SynthConfig(REGION, 120, 2012, seed=5, chunk_size=60))
    report = load_area(out, engine, migrate=False, settlements=False)
    assert report.errors == [] and report.persons_inserted == 120
    floor, ceiling = (4179900 * 6 // 10 + 6) // 12, (4179900 * 3 + 6) // 12
    assert (floor, ceiling) == (208995, 1044975)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT kind, individual, fiscal_subsidy, base, period_start FROM contributions")
        ).all()
    kinds = Counter(r[0] for r in rows)
    assert kinds["resident"] > 0 and kinds["employee"] > 0
    for kind, individual, subsidy, base, start in rows:
        assert str(start).startswith("2012-")
        if kind == "resident":
            assert (individual, subsidy) == (60_00, 240_00)
        if kind in ("employee", "flexible"):
            assert floor <= base <= ceiling


# ---------------------------------------------------------------------------- commands


def test_cli_load_json(area: Path, tmp_path: Path) -> None:
    from yibao.cli import app

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    result = CliRunner().invoke(app, ["synth", "load", str(area), "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["persons_inserted"] == PERSONS and data["parts_loaded"] == 3
    bad = CliRunner().invoke(app, ["synth", "load", str(tmp_path), "--db", url])
    assert bad.exit_code == 2 and "no meta.json" in bad.output


def test_demo_generates_loads_and_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from yibao.cli import app

    monkeypatch.setenv("YIBAO_DATA_DIR", str(tmp_path / "demo"))
    monkeypatch.setenv("YIBAO_DEMO_PERSONS", "200")
    monkeypatch.delenv("YIBAO_DATABASE_URL", raising=False)
    first = CliRunner().invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    assert "Generating a synthetic area: 200 persons" in first.output
    assert "Loaded into" in first.output
    for shown in (
        "Synthetic area 360100, 2025",
        "Fund balances of 360100",
        "transactions, balanced)",
        "resident_pooling:360100",
        "yibao calc settle (the example scenario)",
        "hifp_pay",
        "34790.00",
    ):
        assert shown in first.output, shown
    assert (tmp_path / "demo" / "meta.json").exists()
    assert (tmp_path / "demo" / "yibao.sqlite").exists()
    second = CliRunner().invoke(app, ["demo"])
    assert second.exit_code == 0, second.output
    assert "Reusing the synthetic area" in second.output and "Generating" not in second.output
