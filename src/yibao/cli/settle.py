"""``yibao settle``, ``presettle``, ``reverse`` and ``yibao visit``: the settlement transactions
of designated institutions (2201/2202 visits, 2206 pre-settlement, 2207 settlement, 2208
reversal) from the command line."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from yibao.calc.scenario import ScenarioError, read_scenario
from yibao.cli.common import (
    DbOpt,
    JsonOpt,
    OperatorOpt,
    ShowOpt,
    emit,
    fail,
    out,
    parse_date,
    shown,
    unit_of_work,
)
from yibao.cli.options import with_policy_dir
from yibao.domain.settlement import check_level, check_med_type
from yibao.services import settlement

visit_app = typer.Typer(no_args_is_help=True, help="Visits of designated institutions (2201/2202)")

ClaimFile = Annotated[
    str | None,
    typer.Argument(help="Claim file (YAML or JSON; '-' for standard input); options override"),
]
PersonOpt = Annotated[str | None, typer.Option("--person", help="National ID")]
DateOpt = Annotated[str | None, typer.Option("--date", help="Date of the claim (YYYY-MM-DD)")]
MedTypeOpt = Annotated[
    str | None, typer.Option("--med-type", help="inpatient|outpatient|chronic|maternity|pharmacy")
]
LevelOpt = Annotated[str | None, typer.Option("--level", help="Institution level 1, 2 or 3")]
TotalOpt = Annotated[str | None, typer.Option("--total", help="Total cost (yuan)")]
SelfOpt = Annotated[str | None, typer.Option("--fully-self-paid", help="Fully self-paid (yuan)")]
OverOpt = Annotated[str | None, typer.Option("--over-limit", help="Over price limits (yuan)")]
CatBOpt = Annotated[str | None, typer.Option("--category-b", help="Category-B items (yuan)")]
CrossOpt = Annotated[
    str | None, typer.Option("--cross-region", help="none|registered|referred|temporary")
]
InstOpt = Annotated[str | None, typer.Option("--institution", help="Institution code")]
VisitOpt = Annotated[str | None, typer.Option("--mdtrt-id", help="A registered visit")]
NoAccountOpt = Annotated[
    bool, typer.Option("--no-account", help="Do not pay from the personal account")
]
MutualOpt = Annotated[
    str | None,
    typer.Option("--mutual-aid-from", help="National ID of the employee whose account pays"),
]
ListedOpt = Annotated[
    str | None,
    typer.Option(
        "--listed-self-paid",
        help="Self-paid items on the list of the person's commercial product (惠民保, yuan)",
    ),
]
DiseaseOpt = Annotated[
    str | None,
    typer.Option("--disease", help="A chronic claim's disease (门诊慢特病 code), certified"),
]
RequestOpt = Annotated[
    str | None, typer.Option("--request-id", help="Idempotency key (msgid): settled once")
]


def _claim_doc(file: str | None, as_json: bool, options: dict[str, Any]) -> dict[str, Any]:
    """The claim as a mapping: the file's, with the options given on top."""
    doc: dict[str, Any] = {}
    if file is not None:
        try:
            doc = read_scenario(file)
        except ScenarioError as exc:
            fail(str(exc), as_json)
    for key, value in options.items():
        if value is not None:
            doc[key] = value
    level = doc.get("level")
    if isinstance(level, str):
        if level.strip() not in ("1", "2", "3"):
            fail(f"level: unknown institution level {level!r}; expected 1, 2 or 3", as_json)
        doc["level"] = int(level)
    return doc


def _settlement_human(data: dict[str, Any]) -> Callable[[], None]:
    def human() -> None:
        ident = data.get("setl_id") or "pre-settlement"
        insurer = (
            f"commercial {data['commercial_pay']}, " if "commercial_pay" in data else ""
        )  # 惠民保
        out.print(
            f"{ident} {data.get('psn_no')} {data.get('setl_time')} {data.get('med_type')}: "
            f"total {data.get('medfee_sumamt')}, funds {data.get('fund_pay_sumamt')}, {insurer}"
            f"account {data.get('acct_pay')}, mutual aid {data.get('acct_mulaid_pay')}, "
            f"cash {data.get('psn_cash_pay')}"
        )
        lines = data.get("fee_lines")
        if lines:
            out.print(
                f"  from {lines['count']} fee lines: fully self-paid "
                f"{lines['fulamt_ownpay_amt']}, over limit {lines['overlmt_amt']}, "
                f"category B {lines['category_b']}"
            )
        for d in data.get("setldetail", []):
            out.print(f"  {d['fund_pay_type']} {d['fund_name']}: {d['fund_payamt']}")
        for r in data.get("reasons", []):
            out.print(f"  - {r}")

    return human


def _claim_command(preview: bool, doc: str) -> Callable[..., None]:
    """The command that settles (2207) or, with ``preview``, pre-settles (2206) a claim given
    as a file and/or options; the pre-settlement takes no ``--request-id`` (nothing is stored)."""

    def command(
        file: ClaimFile = None,
        person: PersonOpt = None,
        date: DateOpt = None,
        med_type: MedTypeOpt = None,
        level: LevelOpt = None,
        total: TotalOpt = None,
        fully_self_paid: SelfOpt = None,
        over_limit: OverOpt = None,
        category_b: CatBOpt = None,
        cross_region: CrossOpt = None,
        institution: InstOpt = None,
        mdtrt_id: VisitOpt = None,
        no_account: NoAccountOpt = False,
        mutual_aid_from: MutualOpt = None,
        disease: DiseaseOpt = None,
        listed_self_paid: ListedOpt = None,
        request_id: RequestOpt = None,
        show_identity: ShowOpt = False,
        operator: OperatorOpt = None,
        db: DbOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        options = {
            "person": person,
            "date": date,
            "med_type": med_type,
            "level": level,
            "total": total,
            "fully_self_paid": fully_self_paid,
            "over_limit": over_limit,
            "category_b": category_b,
            "cross_region": cross_region,
            "fixmedins_code": institution,
            "mdtrt_id": mdtrt_id,
            "use_account": False if no_account else None,
            "mutual_aid_from": mutual_aid_from,
            "disease": disease,
            "listed_self_paid": listed_self_paid,
        }
        claim_doc = _claim_doc(file, as_json, options)
        key = request_id or claim_doc.pop("request_id", None) or claim_doc.pop("msgid", None)
        with unit_of_work(db, as_json, show_identity) as uow:
            claim = settlement.claim_from_mapping(claim_doc)
            if preview:
                result = settlement.presettle(uow, claim)
            else:
                result = settlement.settle(uow, claim, None if key is None else str(key))
        data = dict(result.response)
        if result.replayed:
            data["replayed"] = True
        emit(data, as_json, _settlement_human(shown(data, show_identity)), show_identity)

    command.__doc__ = doc
    if preview:
        signature = inspect.signature(command, eval_str=True)
        command.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for p in signature.parameters.values() if p.name != "request_id"]
        )
    return with_policy_dir(command)


settle = _claim_command(
    False, "Settle a claim (2207): stored, funds posted, year-to-date totals moved."
)
presettle = _claim_command(True, "Pre-settle a claim (2206): the full breakdown, nothing stored.")


@with_policy_dir
def reverse(
    setl_id: Annotated[str, typer.Argument(help="The settlement to reverse")],
    on: Annotated[str | None, typer.Option(help="Date of the reversal")] = None,
    request_id: RequestOpt = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reverse a settlement (2208): every posting undone, year-to-date totals restored."""
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json, show_identity) as uow:
        r = settlement.reverse(uow, setl_id, on=day, request_id=request_id)
    data = dict(r.response)
    data["transaction_id"] = r.transaction_id
    emit(data, as_json, f"{setl_id} reversed on {r.reversed_on.isoformat()}", show_identity)


@visit_app.command("register")
def visit_register(
    national_id: Annotated[str, typer.Argument()],
    institution: Annotated[str, typer.Option("--institution", help="Institution code")],
    med_type: MedTypeOpt = None,
    level: LevelOpt = None,
    on: Annotated[str | None, typer.Option(help="First day of the visit")] = None,
    cross_region: CrossOpt = None,
    mdtrt_id: Annotated[
        str | None, typer.Option("--mdtrt-id", help="Visit id (default: new)")
    ] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a visit (2201)."""
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json, show_identity) as uow:
        if level is None or level.strip() not in ("1", "2", "3"):
            check_level(level)
        assert level is not None
        v = settlement.register_visit(
            uow,
            national_id,
            institution,
            check_med_type(med_type),
            int(level),
            day,
            cross_region=cross_region or "none",
            mdtrt_id=mdtrt_id,
        )
    data = {
        "mdtrt_id": v.mdtrt_id,
        "psn_no": national_id,
        "fixmedins_code": v.fixmedins_code,
        "med_type": v.med_type,
        "level": v.level,
        "cross_region": v.cross_region,
        "begin_date": v.begin_date.isoformat(),
        "status": v.status.value,
    }
    emit(data, as_json, f"visit {v.mdtrt_id} registered", show_identity)


@visit_app.command("cancel")
def visit_cancel(
    mdtrt_id: Annotated[str, typer.Argument()],
    on: Annotated[str | None, typer.Option(help="Date of cancellation")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a visit (2202); refused while a settlement of it is in force."""
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json) as uow:
        v = settlement.cancel_visit(uow, mdtrt_id, day)
    emit(
        {"mdtrt_id": v.mdtrt_id, "status": v.status.value},
        as_json,
        f"visit {v.mdtrt_id} {v.status.value}",
    )
