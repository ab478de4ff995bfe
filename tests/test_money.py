"""Amounts have one upper bound (``policy.money.MAX_YUAN``) and one parser, at every edge: the
API's 2206/2207 (route and fast path), 2201 and 3201, FHIR Claim amounts, the CLI, the calculator
and the domain; a person's year-to-date amounts have theirs (``MAX_YEAR_FEN``). A huge amount or one
in non-ASCII digits is refused naming the field, and nothing is stored. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.api_support import *  # noqa: F403  (fixtures: api, db_url, engine, uow)
from tests.api_support import Api, route_only
from tests.test_api_settlement import employee
from tests.test_calc import SETTLE
from yibao.cli import app as cli
from yibao.domain.errors import InvalidField
from yibao.domain.settlement import Claim
from yibao.kernel.tables import compile_tables
from yibao.policy import ParameterError, Policy
from yibao.policy.money import (
    MAX_FEN,
    MAX_YEAR_FEN,
    MAX_YUAN,
    AmountError,
    check_fen,
    parse_int,
    parse_yuan,
)
from yibao.services import settlement
from yibao.store.models import BenefitStateRow, SettlementRow
from yibao.store.uow import UnitOfWork

HUGE = "200000000000.00"  # two hundred billion yuan: once paid 0.00 and broke the year's state
OVERFLOWING = 1e17  # once an OverflowError (HTTP 500)
FULLWIDTH = "１００"  # "100" in fullwidth digits


# ------------------------------------------------------------------------------ the parser


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        ("0", 0),
        ("12.3", 12_30),
        ("12.34", 12_34),
        (" 12.50 ", 12_50),
        ("1.000", 1_00),
        (7, 7_00),
        (0.1, 10),
        (Decimal("99.99"), 99_99),
        ("100000000.00", 100_000_000_00),
        (100_000_000, 100_000_000_00),
    ],
)
def test_a_yuan_amount_is_read_as_fen(value: object, fen: int) -> None:
    assert parse_yuan(value, "total") == fen


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        (True, "not a boolean"),
        ("abc", "'abc' is not a number"),
        (FULLWIDTH, "'１００' is not a number"),
        ("١٠٠", "is not a number"),  # Arabic-Indic digits
        ("1e3", "is not a number"),
        ("+5", "is not a number"),
        ("1_000", "is not a number"),
        ("-1", "must not be negative"),
        (-0.5, "must not be negative"),
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        ("12.345", "more than two decimal places"),
        (0.1 + 0.2, "more than two decimal places"),
        ("100000000.01", "above the largest amount accepted (100000000.00 yuan)"),
        (HUGE, "above the largest amount"),
        (OVERFLOWING, "above the largest amount"),
        (10**30, "above the largest amount"),
        ([1], "must be an amount in yuan"),
    ],
)
def test_a_bad_yuan_amount_is_refused_naming_the_field(value: object, reason: str) -> None:
    with pytest.raises(AmountError) as err:
        parse_yuan(value, "total")
    assert err.value.field == "total" and reason in err.value.reason


def test_the_bound_in_yuan_and_fen_agree() -> None:
    assert MAX_FEN == int(MAX_YUAN * 100) == 10_000_000_000
    assert MAX_YEAR_FEN == 100 * MAX_FEN
    assert check_fen(MAX_FEN, "total") == MAX_FEN
    with pytest.raises(AmountError, match="above the largest amount"):
        check_fen(MAX_FEN + 1, "total")


@pytest.mark.parametrize("value", ["２", "1.0", "1e2", "", True, 2.0, "9" * 25])
def test_an_integer_is_ascii_digits(value: object) -> None:
    with pytest.raises(AmountError):
        parse_int(value, "level")
    assert parse_int(" 2 ", "level") == parse_int(2, "level") == 2


def test_the_domain_refuses_an_amount_above_the_bound() -> None:
    on = dt.date(2025, 5, 1)
    Claim(person="p", date=on, total=MAX_FEN, med_type="inpatient", level=2)
    with pytest.raises(InvalidField) as err:
        Claim(person="p", date=on, total=MAX_FEN + 1, med_type="inpatient", level=2)
    assert err.value.field == "total"
    with pytest.raises(InvalidField) as err:
        Claim(person="p", date=on, total=MAX_FEN, med_type="inpatient", level=2, over_limit=-1)
    assert err.value.field == "over_limit"


# ----------------------------------------------------------------------------- the API


def _stored(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(SettlementRow)) or 0)


CLAIM: dict[str, Any] = {"date": "2025-05-01", "med_type": "inpatient"}


@pytest.mark.parametrize("path", ["fast path", "route"])
def test_a_huge_or_non_ascii_total_is_refused_and_changes_nothing(
    api: Api, uow: UnitOfWork, db_url: str, path: str
) -> None:
    who = employee(uow)
    client = api if path == "fast path" else route_only(api)
    inst = client.institution()
    for infno in ("2206", "2207"):
        for total in (HUGE, OVERFLOWING, "100000000000000000.00", 1e20, FULLWIDTH):
            out = client.tx(inst, infno, {"certno": who, **CLAIM, "total": total})
            assert out["_status"] < 500 and out["infcode"] == 1003, (infno, total, out)
            assert out["err_msg"].startswith("total: "), out
        out = client.tx(inst, infno, {"certno": who, **CLAIM, "total": "1", "over_limit": HUGE})
        assert out["infcode"] == 1003 and out["err_msg"].startswith("over_limit: "), out
    assert _stored(api.engine) == 0
    with Session(api.engine) as s:
        assert not any(s.scalars(select(BenefitStateRow.state)).all())
    # the year is intact: 100 000 yuan is paid by the basic fund, not refused as over its cap
    out = client.tx(inst, "2207", {"certno": who, **CLAIM, "total": "100000.00"})
    assert out["infcode"] == 0, out
    assert out["output"]["hifp_pay"] == "84575.00"  # employee, level 2: (100000 - 500) x 85%
    assert "basic fund: annual cap reached" not in out["output"]["reasons"]


def test_the_largest_amount_is_settled_and_adds_up(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    inst = api.institution()
    out = api.tx(inst, "2206", {"certno": who, **CLAIM, "total": "100000000.00"})
    assert out["infcode"] == 0, out
    o = {k: Decimal(v) for k, v in out["output"].items() if k.endswith(("pay", "sumamt"))}
    assert o["medfee_sumamt"] == Decimal("100000000.00")
    parts = o["fund_pay_sumamt"] + o["acct_pay"] + o["acct_mulaid_pay"] + o["psn_cash_pay"]
    assert parts == o["medfee_sumamt"] and min(o.values()) >= 0
    # the basic fund pays its cap (6 x 124110 = 744660.00), the large-amount fund its cap
    # (400000.00), the account all it holds (6 x 160.00); the person the rest in cash
    assert (o["hifp_pay"], o["hifob_pay"], o["acct_pay"]) == (744_660, 400_000, 960)
    assert o["psn_cash_pay"] == 100_000_000 - 744_660 - 400_000 - 960
    refused = api.tx(inst, "2206", {"certno": who, **CLAIM, "total": "100000000.01"})
    assert refused["infcode"] == 1003 and "above the largest amount" in refused["err_msg"]


def test_an_integer_field_in_non_ascii_digits_is_refused(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    inst = api.institution()
    out = api.tx(inst, "2201", {"certno": who, "med_type": "inpatient", "level": "２"})
    assert out["infcode"] == 1003 and out["err_msg"].startswith("input.level: "), out
    out = api.tx(inst, "3201", {"stmt_date": "2025-05-01", "medfee_sumamt": FULLWIDTH})
    assert out["infcode"] == 1003 and "medfee_sumamt" in out["err_msg"], out


def _fhir_claim(psn_no: str, total: Any, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Claim",
        "use": "claim",
        "patient": {"reference": f"Patient/{psn_no}"},
        "type": {"coding": [{"system": "urn:yibao:med-type", "code": "inpatient"}]},
        "billablePeriod": {"start": "2025-05-01"},
        "total": {"value": total, "currency": "CNY"},
        **more,
    }


def test_a_fhir_claim_with_a_huge_amount_is_refused_naming_the_element(
    api: Api, uow: UnitOfWork
) -> None:
    who = employee(uow)
    with uow:
        psn_no = str(uow.persons.require(who).id)
    inst = api.institution()
    over = {
        "extension": [
            {"url": "urn:yibao:over_limit", "valueMoney": {"value": 1e18, "currency": "CNY"}}
        ]
    }
    cases = [
        (_fhir_claim(psn_no, 1e20), "Claim.total.value: "),
        (_fhir_claim(psn_no, FULLWIDTH), "Claim.total.value: "),
        (_fhir_claim(psn_no, 100, **over), "Claim.extension[urn:yibao:over_limit].valueMoney"),
    ]
    path = "/fhir/Claim/$submit"
    for doc, element in cases:
        body = orjson.dumps(doc)
        r = api.client.post(path, content=body, headers=api.signed(inst, path, body))
        assert 400 <= r.status_code < 500, r.text
        outcome = r.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["diagnostics"].startswith(element), outcome
    assert _stored(api.engine) == 0


# ----------------------------------------------------------------------------- the CLI


def _cli(db_url: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, [*args, "--db", db_url, "--json"])
    return result.exit_code, json.loads(result.stdout if result.exit_code == 0 else result.stderr)


def test_the_cli_refuses_a_huge_amount(db_url: str, uow: UnitOfWork, engine: Engine) -> None:
    who = employee(uow)
    claim = ["--person", who, "--date", "2025-05-01", "--med-type", "inpatient", "--level", "2"]
    for command in ("settle", "presettle"):
        for total in (HUGE, "1e17", "100000000000000000", FULLWIDTH):
            code, out = _cli(db_url, command, *claim, "--total", total)
            assert code == 2 and out["error"].startswith("total: "), (command, total, out)
    for wage in (HUGE, FULLWIDTH, "8000.001"):
        code, out = _cli(
            db_url, "pay", who, "--kind", "employee", "--period", "2024-07", "--wage", wage
        )
        assert code == 2 and out["error"].startswith("wage: "), (wage, out)
    assert _stored(engine) == 0


# ------------------------------------------------------------------------ the calculator


def _calc(tmp_path: Path, claims: list[dict[str, Any]]) -> tuple[int, str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({**SETTLE, "claims": claims}, allow_unicode=True))
    result = CliRunner().invoke(cli, ["calc", "settle", str(path)])
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("total", "reason"),
    [
        (HUGE, "above the largest amount accepted"),
        (OVERFLOWING, "above the largest amount accepted"),
        (10**17, "above the largest amount accepted"),
        (FULLWIDTH, "is not a number"),
    ],
)
def test_the_calculator_refuses_a_huge_amount(tmp_path: Path, total: Any, reason: str) -> None:
    code, err = _calc(tmp_path, [{**SETTLE["claims"][0], "total": total}])
    assert code == 2 and err.startswith("error: claims[0].total: ") and reason in err, err


def test_the_calculator_refuses_a_year_past_its_bound(tmp_path: Path) -> None:
    top = {**SETTLE["claims"][0], "total": "100000000.00", "fully_self_paid": 0}
    code, err = _calc(tmp_path, [top] * 100)
    assert code == 0, err
    code, err = _calc(tmp_path, [top] * 100 + [{**top, "total": "0.01"}])
    assert code == 2 and "claims[100].total: would take the person's year-to-date" in err, err


# ------------------------------------------------------------------- the year-to-date bound


def test_a_claim_past_the_years_bound_is_refused(uow: UnitOfWork, engine: Engine) -> None:
    who = employee(uow)
    with uow:
        person_id = uow.persons.require(who).id
        assert person_id is not None
        near = {"cap:basic.raw": MAX_YEAR_FEN - 100_00}  # 100.00 yuan of room left
        uow.settlements.lock_state(person_id, 2025)  # the row
        uow.settlements.save_state(person_id, 2025, near, 0)
        uow.commit()
    on = dt.date(2025, 5, 1)
    with pytest.raises(InvalidField) as err:
        settlement.settle(uow, Claim(who, on, 100_01, "inpatient", 2), "r-1")
    assert err.value.field == "total" and "year-to-date" in err.value.reason
    with pytest.raises(InvalidField):
        settlement.presettle(uow, Claim(who, on, 100_01, "inpatient", 2))
    assert _stored(engine) == 0
    settled = settlement.settle(uow, Claim(who, on, 100_00, "inpatient", 2), "r-2")
    assert settled.response["medfee_sumamt"] == "100.00"


@pytest.mark.parametrize(
    ("overlay", "path"),
    [
        ({"large_amount": {"ratio": 1000}}, "large_amount.ratio"),
        ({"catalog": {"category_b_prepay_ratio": 1.5}}, "catalog.category_b_prepay_ratio"),
        (
            {"benefits": {"cross_region": {"prepay_ratio": {"temporary": 2}}}},
            "benefits.cross_region.prepay_ratio.temporary",
        ),
    ],
)
def test_a_share_ratio_above_one_is_refused(overlay: dict[str, Any], path: str) -> None:
    # ratios multiply amounts in the kernel: above 1 a product could pass int64 within the bound;
    # the parameters refuse them on load (policy.values), before any table is compiled
    with pytest.raises(ParameterError) as err:
        compile_tables(Policy("000000", overlays=[overlay]), 2025)
    assert err.value.path == path and "above 1" in err.value.reason
