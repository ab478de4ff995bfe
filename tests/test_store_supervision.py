"""Supervision findings in the store (SQLite and PostgreSQL): a run's findings recorded once
(a rerun adds none), the workflow's moves and refusals, the audit trail, the recovery's balanced
ledger transaction, and institutions' credit scores (docs/supervision.md)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from yibao.domain.errors import InvalidField, NotFound
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.domain.supervision import FindingStateError, credit_score
from yibao.policy.vocab import Severity
from yibao.services.supervision import findings
from yibao.store.uow import UnitOfWork

AREA, YEAR = "360100", 2025


def evidence() -> pa.Table:
    """Claim 10: two sex-restricted lines (12.00 + 3.50 yuan) at H1; claim 11: a split
    admission (total 800.00 yuan, the earlier claim 9) at H2; claim 12: after death at H1."""
    rows = [
        ("sex_age", 10, 1, "H1", 3, -1, 1200, "resident"),
        ("sex_age", 10, 1, "H1", 5, -1, 350, "resident"),
        ("split_admission", 11, 2, "H2", -1, 9, 80000, "employee"),
        ("dead_or_uninsured", 12, 3, "H1", -1, -1, 4000, "employee"),
    ]
    names = [
        "rule",
        "claim_id",
        "psn_no",
        "fixmedins_code",
        "feedetl_sn",
        "other_claim_id",
        "amount",
        "scheme",
    ]
    return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})


def test_a_rerun_records_nothing_twice(uow: UnitOfWork) -> None:
    assert findings.record(uow, evidence(), AREA, YEAR) == 3
    assert findings.record(uow, evidence(), AREA, YEAR) == 0
    listed = findings.list_findings(uow, area=AREA, year=YEAR)
    assert [(f.rule, f.claim, f.amount, f.severity) for f in listed] == [
        ("sex_age", "10", 1550, "medium"),  # the lines' amounts: 1200 + 350
        ("split_admission", "11", 80000, "high"),
        ("dead_or_uninsured", "12", 4000, "high"),
    ]
    sex = findings.show(uow, listed[0].id)
    assert [e["line"] for e in sex.evidence] == ["3", "5"]
    split = findings.show(uow, listed[1].id)
    assert split.evidence[0]["other_claim"] == "9"


def test_confirm_recover_posts_a_balanced_transaction(uow: UnitOfWork) -> None:
    findings.record(uow, evidence(), AREA, YEAR)
    split = findings.list_findings(uow, rule="split_admission")[0]
    done = findings.confirm(uow, split.id, 80000, by="auditor-li")
    assert (done.status, done.recovery) == ("confirmed", 80000)
    done = findings.recover(uow, split.id, by="auditor-li", on=dt.date(2026, 3, 1))
    assert done.status == "recovered"
    assert [a["status"] for a in done.actions] == ["confirmed", "recovered"]
    assert {a["by"] for a in done.actions} == {"auditor-li"}
    payable = AccountRef.of_institution(AccountKind.INSTITUTION_PAYABLE, "H2")
    pooling = AccountRef.fund(AccountKind.EMPLOYEE_POOLING, AREA)
    with uow:
        balances = uow.ledger.balances([payable, pooling])
        unbalanced = uow.ledger.unbalanced_transactions()
    # H2 owes the fund 800.00 yuan: its account debited, the employee pooling fund credited
    assert balances[payable].balance == 80000
    assert balances[pooling].balance == -80000
    assert unbalanced == []
    with pytest.raises(FindingStateError):  # recovered once only
        findings.recover(uow, split.id, by="auditor-li")


def test_the_workflow_refuses_what_it_does_not_allow(uow: UnitOfWork) -> None:
    findings.record(uow, evidence(), AREA, YEAR)
    sex, _split, dead = findings.list_findings(uow)
    with pytest.raises(FindingStateError, match="open to recovered"):
        findings.recover(uow, sex.id, by="a")
    with pytest.raises(InvalidField, match="recovery"):
        findings.confirm(uow, sex.id, 0, by="a")
    with pytest.raises(InvalidField, match="recovery"):
        findings.confirm(uow, sex.id, 10**12, by="a")
    with pytest.raises(InvalidField, match="reason"):
        findings.dismiss(uow, dead.id, "   ", by="a")
    with pytest.raises(InvalidField, match="by"):
        findings.confirm(uow, sex.id, 100, by="")
    gone = findings.dismiss(uow, dead.id, "death registered late; the visit was before", by="b")
    assert (gone.status, gone.reason) == (
        "dismissed",
        "death registered late; the visit was before",
    )
    with pytest.raises(FindingStateError):
        findings.confirm(uow, dead.id, 100, by="b")
    with pytest.raises(NotFound):
        findings.show(uow, 999_999)
    assert findings.show(uow, sex.id).status == "open"


def test_credit_scores_from_confirmed_findings(uow: UnitOfWork) -> None:
    """H1: the sex/age finding (medium, 3 points) confirmed, the death one (high) dismissed:
    100 − 3 = 97. H2: the split admission (high, 10 points) recovered: 90."""
    findings.record(uow, evidence(), AREA, YEAR)
    sex, split, dead = findings.list_findings(uow)
    findings.confirm(uow, sex.id, 1550, by="a")
    findings.dismiss(uow, dead.id, "not irregular", by="a")
    findings.confirm(uow, split.id, 80000, by="a")
    findings.recover(uow, split.id, by="a")
    assert findings.credit_scores(uow, AREA, YEAR) == {"H1": 97, "H2": 90}
    assert findings.credit_scores(uow, AREA, YEAR + 1) == {}


def test_credit_score_never_below_zero() -> None:
    assert credit_score([Severity.HIGH] * 11) == 0
    assert credit_score([Severity.LOW, Severity.MEDIUM]) == 96


def test_cli_findings_confirm_recover_and_scores(db_url: str, uow: UnitOfWork) -> None:
    from typer.testing import CliRunner

    from yibao.cli import app

    findings.record(uow, evidence(), AREA, YEAR)
    split = findings.list_findings(uow, rule="split_admission")[0]
    run = CliRunner().invoke
    args = ["--db", db_url, "--operator", "auditor-li"]
    for odd_amount in ("1e3", "１０００", "1_000", "-5", "1000.001"):
        bad = run(app, ["findings", "confirm", str(split.id), "--recovery", odd_amount, *args])
        assert bad.exit_code == 2 and "--recovery" in bad.output, (odd_amount, bad.output)
    sci = run(app, ["findings", "confirm", str(split.id), "--recovery", "1000", *args])
    assert sci.exit_code == 0, sci.output
    assert findings.show(uow, split.id).recovery == 100000
    done = run(app, ["findings", "recover", str(split.id), "--on", "2026-02-01", *args])
    assert done.exit_code == 0, done.output
    again = run(app, ["findings", "recover", str(split.id), *args])
    assert again.exit_code == 2 and "recovered to recovered" in again.output
    odd = run(app, ["findings", "dismiss", "999999", "--reason", "x", "--db", db_url])
    assert odd.exit_code == 2
    scores = run(
        app, ["findings", "scores", "--area", AREA, "--year", str(YEAR), "--db", db_url, "--json"]
    )
    assert scores.exit_code == 0, scores.output
    assert '"H2": 90' in scores.output
