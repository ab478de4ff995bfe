"""``yibao enrol`` and ``yibao enrolment``: enrol a person in a scheme; suspend, resume,
terminate, transfer."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from yibao.cli.common import (
    DbOpt,
    JsonOpt,
    OperatorOpt,
    ShowOpt,
    emit,
    parse_date,
    unit_of_work,
)
from yibao.cli.options import with_policy_dir
from yibao.domain.enrolment import Enrolment
from yibao.services import enrolment

enrolment_app = typer.Typer(no_args_is_help=True, help="Suspend, resume, terminate, transfer")

DeemedOpt = Annotated[
    int,
    typer.Option(min=0, help="Retiree: deemed contribution months (视同缴费) to count"),
]
BackPayOpt = Annotated[
    bool,
    typer.Option(
        "--back-pay",
        help="Retiree short of the minimum years: record the one-off back-payment",
    ),
]


def enrolment_dict(e: Enrolment) -> dict[str, Any]:
    """An enrolment as printed (``--json``)."""
    return {
        "id": e.id,
        "person_id": e.person_id,
        "scheme": e.scheme.value,
        "kind": e.kind.value,
        "pooling_area": e.pooling_area,
        "employer_code": e.employer_code,
        "start_date": e.start_date.isoformat(),
        "end_date": e.end_date.isoformat() if e.end_date else None,
        "status": e.status.value,
        "carried_employee_months": e.carried_employee_months,
        "carried_resident_years": e.carried_resident_years,
        "description": e.describe(),
    }


@with_policy_dir
def enrol(
    national_id: Annotated[str, typer.Argument()],
    kind: Annotated[str, typer.Option(help="employer|flexible|retiree|resident")],
    area: Annotated[str, typer.Option(help="Pooling area (6-digit code)")],
    on: Annotated[str | None, typer.Option(help="First covered day")] = None,
    employer: Annotated[str | None, typer.Option(help="Employer code (kind employer)")] = None,
    deemed_months: DeemedOpt = 0,
    back_pay: BackPayOpt = False,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enrol a person in a scheme (refused if already enrolled: the enrolment is named). A
    retiree short of the minimum contribution years is refused unless --back-pay."""
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json, show_identity) as uow:
        e = enrolment.enrol(
            uow,
            national_id,
            kind,
            area,
            day,
            employer_code=employer,
            deemed_months=deemed_months,
            back_pay=back_pay,
        )
    emit(enrolment_dict(e), as_json, e.describe(), show_identity)


@enrolment_app.command("suspend")
def enrolment_suspend(
    national_id: Annotated[str, typer.Argument()],
    on: Annotated[str | None, typer.Option()] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Suspend the person's open enrolment."""
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json, show_identity) as uow:
        e = enrolment.suspend(uow, national_id, day, reason)
    emit(enrolment_dict(e), as_json, e.describe(), show_identity)


@enrolment_app.command("resume")
def enrolment_resume(
    national_id: Annotated[str, typer.Argument()],
    on: Annotated[str | None, typer.Option()] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resume a suspended enrolment."""
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json, show_identity) as uow:
        e = enrolment.resume(uow, national_id, day)
    emit(enrolment_dict(e), as_json, e.describe(), show_identity)


@enrolment_app.command("terminate")
def enrolment_terminate(
    national_id: Annotated[str, typer.Argument()],
    on: Annotated[str | None, typer.Option(help="Last covered day")] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Terminate the person's open enrolment."""
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json, show_identity) as uow:
        e = enrolment.terminate(uow, national_id, day, reason)
    emit(enrolment_dict(e), as_json, e.describe(), show_identity)


@enrolment_app.command("transfer")
def enrolment_transfer(
    national_id: Annotated[str, typer.Argument()],
    on: Annotated[str | None, typer.Option(help="First day in the new area/scheme")] = None,
    to_area: Annotated[str | None, typer.Option(help="New pooling area")] = None,
    to_kind: Annotated[str | None, typer.Option(help="employer|flexible|retiree|resident")] = None,
    employer: Annotated[str | None, typer.Option(help="New employer code")] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    deemed_months: DeemedOpt = 0,
    back_pay: BackPayOpt = False,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Transfer between pooling areas and/or schemes; contribution years are carried."""
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json, show_identity) as uow:
        old, new = enrolment.transfer(
            uow,
            national_id,
            day,
            to_area=to_area,
            to_kind=to_kind,
            employer_code=employer,
            reason=reason,
            deemed_months=deemed_months,
            back_pay=back_pay,
        )
    emit(
        {"from": enrolment_dict(old), "to": enrolment_dict(new)},
        as_json,
        f"{old.describe()}\n-> {new.describe()}",
        show_identity,
    )
