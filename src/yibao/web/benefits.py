"""The console's benefit pages (``benefit_routes``): certified chronic and special diseases
(门诊慢特病) on a person's file, major epidemics (重大疫情), the cross-region clearing between
pooling areas (异地就医清算) and the maternity allowance (生育津贴). Each route checks the
session, the form's CSRF token and the role's action, then calls ``services.console_benefits``
(the same services as the command line and the API) and renders; a refusal is shown next to the
field it names."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Path
from fastapi.responses import Response

from yibao.domain.errors import NotFound, RecordError
from yibao.domain.masking import mask_ids_in
from yibao.domain.registry import check_area
from yibao.policy.money import parse_yuan
from yibao.policy.vocab import GroupKind
from yibao.rules.errors import InvalidField
from yibao.rules.maternity import MAX_BABIES, Birth
from yibao.services import clock
from yibao.services import console_benefits as svc
from yibao.services.cross_region import pair_row
from yibao.web.app import (
    PREFIX,
    Ctx,
    FormCtx,
    PersonId,
    StaffCtx,
    _check_fields,
    _date,
    _redirect,
    _render,
)

#: A stored id (certification, epidemic) as the store holds it.
RowId = Annotated[int, Path(ge=1, le=2**62)]
GROUPS = tuple(g.value for g in GroupKind)
_LISTED = re.compile(r"[\s,;，；、]+")


def _optional_date(value: str, name: str) -> dt.date | None:
    return _date(value, name) if value.strip() else None


def _said(ctx: Ctx, exc: Exception) -> str:
    """A refusal's message, national IDs masked unless the role sees identities."""
    assert ctx.staff is not None
    return str(exc) if ctx.staff.sees_identity else mask_ids_in(str(exc))


def _errors(ctx: Ctx, exc: Exception, rename: dict[str, str]) -> dict[str, str]:
    """The refusal next to the form's field it names (``rename``: the service's field → the
    form's), else at the top of the page."""
    name = getattr(exc, "field", None)
    key = rename.get(name, "general") if isinstance(name, str) else "general"
    return {key: _said(ctx, exc)}


def _last_month() -> str:
    first = clock.today().replace(day=1)
    return f"{first - dt.timedelta(days=1):%Y-%m}"


def benefit_routes(app: FastAPI) -> None:
    _chronic_routes(app)
    _epidemic_routes(app)
    _cross_region_routes(app)
    _maternity_routes(app)


# ------------------------------------------------------------------ chronic and special diseases


def _chronic_routes(app: FastAPI) -> None:
    def certify_form(
        ctx: Ctx, person_id: int, values: dict[str, str], errors: dict[str, str], status: int
    ) -> Response:
        assert ctx.staff is not None
        file = svc.chronic_file(ctx.uow(), ctx.staff, person_id, clock.today())
        return _render(ctx, "chronic_certify.html", status, person_id=person_id, file=file,
                       values=values, errors=errors)  # fmt: skip

    @app.get("/persons/{person_id}/chronic/certify")
    def certify_page(ctx: StaffCtx, person_id: PersonId) -> Response:
        ctx.require("chronic:certify")
        values = {"disease": "", "valid_from": clock.today().isoformat()}
        return certify_form(ctx, person_id, values, {}, 200)

    @app.post("/persons/{person_id}/chronic/certify")
    def certify(
        ctx: FormCtx,
        person_id: PersonId,
        disease: Annotated[str, Form(max_length=20)] = "",
        valid_from: Annotated[str, Form(max_length=20)] = "",
    ) -> Response:
        staff = ctx.require("chronic:certify")
        values = {"disease": disease, "valid_from": valid_from}
        try:
            _check_fields(values)
            start = _optional_date(valid_from, "valid_from")
            made = svc.certify(ctx.uow(), staff, person_id, disease, start)
        except NotFound:
            raise
        except (RecordError, ValueError) as exc:
            errors = _errors(ctx, exc, {"disease": "disease", "valid_from": "valid_from"})
            return certify_form(ctx, person_id, values, errors, 422)
        return _redirect(f"{PREFIX}/chronic/{made.id}?done=certified")

    def certification_page(
        ctx: Ctx, cert_id: int, done: str | None, values: dict[str, str], errors: dict[str, str],
        status: int = 200,
    ) -> Response:  # fmt: skip
        assert ctx.staff is not None
        page = svc.certification_page(ctx.uow(), ctx.staff, cert_id)
        return _render(ctx, "chronic.html", status, c=page.certification, person_id=page.person_id,
                       history=page.history, done=done, values=values, errors=errors)  # fmt: skip

    def end_values() -> dict[str, str]:
        return {"last_day": clock.today().isoformat(), "reason": ""}

    @app.get("/chronic/{cert_id}")
    def certification(ctx: StaffCtx, cert_id: RowId, done: str | None = None) -> Response:
        ctx.require("chronic:read")
        return certification_page(ctx, cert_id, done, end_values(), {})

    @app.post("/chronic/{cert_id}/renew")
    def renew(ctx: FormCtx, cert_id: RowId) -> Response:
        staff = ctx.require("chronic:certify")
        try:
            svc.renew(ctx.uow(), staff, cert_id)
        except NotFound:
            raise
        except (RecordError, ValueError) as exc:
            return certification_page(
                ctx, cert_id, None, end_values(), {"renew": _said(ctx, exc)}, 422
            )
        return _redirect(f"{PREFIX}/chronic/{cert_id}?done=renewed")

    @app.post("/chronic/{cert_id}/end")
    def end(
        ctx: FormCtx,
        cert_id: RowId,
        last_day: Annotated[str, Form(max_length=20)] = "",
        reason: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        staff = ctx.require("chronic:certify")
        values = {"last_day": last_day, "reason": reason}
        try:
            _check_fields({"last_day": last_day})
            day = _optional_date(last_day, "last_day")
            svc.end(ctx.uow(), staff, cert_id, day, reason.strip())
        except NotFound:
            raise
        except (RecordError, ValueError) as exc:
            errors = _errors(ctx, exc, {"last_day": "last_day", "reason": "reason"})
            return certification_page(ctx, cert_id, None, values, errors, 422)
        return _redirect(f"{PREFIX}/chronic/{cert_id}?done=ended")


# ------------------------------------------------------------------------------ epidemics


def _epidemic_routes(app: FastAPI) -> None:
    def listing(ctx: Ctx, values: dict[str, Any], errors: dict[str, str], status: int) -> Response:
        assert ctx.staff is not None
        found = svc.epidemic_list(ctx.uow(), ctx.staff)
        return _render(ctx, "epidemics.html", status, epidemics=found, values=values,
                       errors=errors, groups=GROUPS)  # fmt: skip

    @app.get("/epidemics")
    def epidemics(ctx: StaffCtx) -> Response:
        ctx.require("epidemic:read")
        values = {"area": "", "name": "", "starts_on": clock.today().isoformat(), "ends_on": "",
                  "diseases": "", "groups": []}  # fmt: skip
        return listing(ctx, values, {}, 200)

    @app.post("/epidemics")
    def declare(
        ctx: FormCtx,
        area: Annotated[str, Form(max_length=20)] = "",
        name: Annotated[str, Form(max_length=100)] = "",
        starts_on: Annotated[str, Form(max_length=20)] = "",
        ends_on: Annotated[str, Form(max_length=20)] = "",
        diseases: Annotated[str, Form(max_length=2000)] = "",
        groups: Annotated[list[str] | None, Form()] = None,
    ) -> Response:
        staff = ctx.require("epidemic:declare")
        chosen = [g[:40] for g in (groups or [])[: 2 * len(GROUPS)]]
        values: dict[str, Any] = {
            "area": area, "name": name, "starts_on": starts_on, "ends_on": ends_on,
            "diseases": diseases, "groups": chosen,
        }  # fmt: skip
        try:
            _check_fields({"area": area, "name": name, "starts_on": starts_on, "ends_on": ends_on})
            check_area(area.strip(), "area")
            start = _date(starts_on, "starts_on")
            end = _optional_date(ends_on, "ends_on")
            codes = [c for c in _LISTED.split(diseases) if c]
            _check_fields({"diseases": " ".join(codes)})
            e = svc.declare(ctx.uow(), staff, area.strip(), name, start, codes, chosen, end)
        except (RecordError, ValueError) as exc:
            fields = ("area", "name", "starts_on", "ends_on", "diseases", "groups")
            return listing(ctx, values, _errors(ctx, exc, {f: f for f in fields}), 422)
        return _redirect(f"{PREFIX}/epidemics/{e.id}?done=declared")

    def epidemic_page(
        ctx: Ctx, epidemic_id: int, done: str | None, values: dict[str, str],
        errors: dict[str, str], status: int = 200,
    ) -> Response:  # fmt: skip
        assert ctx.staff is not None
        report = svc.epidemic_report(ctx.uow(), ctx.staff, epidemic_id)
        return _render(ctx, "epidemic.html", status, e=report, done=done, values=values,
                       errors=errors)  # fmt: skip

    def fresh() -> dict[str, str]:
        today = clock.today().isoformat()
        return {"ends_on": today, "adv_institution": "", "adv_amount": "", "adv_on": today,
                "clr_institution": "", "clr_on": today}  # fmt: skip

    @app.get("/epidemics/{epidemic_id}")
    def epidemic(ctx: StaffCtx, epidemic_id: RowId, done: str | None = None) -> Response:
        ctx.require("epidemic:read")
        return epidemic_page(ctx, epidemic_id, done, fresh(), {})

    @app.post("/epidemics/{epidemic_id}/end")
    def end(
        ctx: FormCtx, epidemic_id: RowId, ends_on: Annotated[str, Form(max_length=20)] = ""
    ) -> Response:
        staff = ctx.require("epidemic:declare")
        values = {**fresh(), "ends_on": ends_on}
        try:
            _check_fields({"ends_on": ends_on})
            svc.end_epidemic(ctx.uow(), staff, epidemic_id, _date(ends_on, "ends_on"))
        except NotFound:
            raise
        except (RecordError, ValueError) as exc:
            errors = _errors(ctx, exc, {"ends_on": "ends_on"})
            return epidemic_page(ctx, epidemic_id, None, values, errors, 422)
        return _redirect(f"{PREFIX}/epidemics/{epidemic_id}?done=ended")

    @app.post("/epidemics/{epidemic_id}/advance")
    def advance(
        ctx: FormCtx,
        epidemic_id: RowId,
        institution: Annotated[str, Form(max_length=40)] = "",
        amount: Annotated[str, Form(max_length=40)] = "",
        on: Annotated[str, Form(max_length=20)] = "",
    ) -> Response:
        staff = ctx.require("epidemic:advance")
        values = {**fresh(), "adv_institution": institution, "adv_amount": amount, "adv_on": on}
        try:
            _check_fields({"institution": institution, "amount": amount, "on": on})
            code = institution.strip()
            if not code:
                raise InvalidField("institution", "the institution's code is required")
            fen = parse_yuan(amount.strip(), "amount")
            svc.advance(ctx.uow(), staff, epidemic_id, code, fen, _date(on, "on"))
        except NotFound:
            raise
        except (RecordError, ValueError) as exc:
            rename = {"institution": "adv_institution", "amount": "adv_amount", "on": "adv_on"}
            return epidemic_page(ctx, epidemic_id, None, values, _errors(ctx, exc, rename), 422)
        return _redirect(f"{PREFIX}/epidemics/{epidemic_id}?done=advanced")

    @app.post("/epidemics/{epidemic_id}/clear")
    def clear(
        ctx: FormCtx,
        epidemic_id: RowId,
        institution: Annotated[str, Form(max_length=40)] = "",
        on: Annotated[str, Form(max_length=20)] = "",
    ) -> Response:
        staff = ctx.require("epidemic:advance")
        values = {**fresh(), "clr_institution": institution, "clr_on": on}
        try:
            _check_fields({"institution": institution, "on": on})
            code = institution.strip()
            if not code:
                raise InvalidField("institution", "the institution's code is required")
            svc.clear_advance(ctx.uow(), staff, epidemic_id, code, _date(on, "on"))
        except NotFound:
            raise
        except (RecordError, ValueError) as exc:
            rename = {"institution": "clr_institution", "on": "clr_on"}
            return epidemic_page(ctx, epidemic_id, None, values, _errors(ctx, exc, rename), 422)
        return _redirect(f"{PREFIX}/epidemics/{epidemic_id}?done=cleared")


# -------------------------------------------------------------------- cross-region clearing

_CROSS_FIELDS = {f: f for f in ("month", "insured_area", "treating_area", "on")}


def _cross_region_routes(app: FastAPI) -> None:
    def page(
        ctx: Ctx, values: dict[str, str], errors: dict[str, str], lines: bool = False,
        done: str | None = None, status: int = 200,
    ) -> Response:  # fmt: skip
        assert ctx.staff is not None
        found = None
        try:
            found = svc.cross_region_statements(
                ctx.uow(), ctx.staff, values["month"].strip(),
                values["insured_area"].strip() or None,
                values["treating_area"].strip() or None, lines=lines,
            )  # fmt: skip
        except (RecordError, ValueError) as exc:
            errors = {**_errors(ctx, exc, _CROSS_FIELDS), **errors}
            status = 422
        return _render(ctx, "cross_region.html", status, statements=found, values=values,
                       errors=errors, lines=lines, done=done, pair_row=pair_row)  # fmt: skip

    @app.get("/cross-region")
    def statements(
        ctx: StaffCtx,
        month: str = "",
        insured_area: str = "",
        treating_area: str = "",
        lines: bool = False,
        done: str | None = None,
    ) -> Response:
        ctx.require("funds:cross_region")
        values = {"month": month[:20] or _last_month(), "insured_area": insured_area[:20],
                  "treating_area": treating_area[:20], "on": clock.today().isoformat()}  # fmt: skip
        shown = done if done and done.isascii() and done.isdigit() and len(done) < 6 else None
        return page(ctx, values, {}, lines, shown)

    @app.post("/cross-region/clear")
    def clear(
        ctx: FormCtx,
        month: Annotated[str, Form(max_length=20)] = "",
        insured_area: Annotated[str, Form(max_length=20)] = "",
        treating_area: Annotated[str, Form(max_length=20)] = "",
        on: Annotated[str, Form(max_length=20)] = "",
    ) -> Response:
        staff = ctx.require("funds:cross_region")
        values = {"month": month, "insured_area": insured_area, "treating_area": treating_area,
                  "on": on}  # fmt: skip
        try:
            _check_fields(values)
            day = _optional_date(on, "on")
            done = svc.cross_region_clear(
                ctx.uow(), staff, month.strip(), insured_area.strip() or None,
                treating_area.strip() or None, day,
            )  # fmt: skip
        except (RecordError, ValueError) as exc:
            return page(ctx, values, _errors(ctx, exc, _CROSS_FIELDS), status=422)
        query = {k: v.strip() for k, v in values.items() if k != "on" and v.strip()}
        query["done"] = str(sum(1 for c in done if c.posted))
        return _redirect(f"{PREFIX}/cross-region?{urlencode(query)}")


# --------------------------------------------------------------------- maternity allowance


def _maternity_routes(app: FastAPI) -> None:
    @app.get("/persons/{person_id}/maternity")
    def maternity_page(ctx: StaffCtx, person_id: PersonId) -> Response:
        ctx.require("benefit:pay")
        values = {"birth_date": clock.today().isoformat(), "difficult": "", "babies": "1",
                  "wage": ""}  # fmt: skip
        return _render(ctx, "maternity.html", person_id=person_id, values=values, errors={},
                       paid=None, max_babies=MAX_BABIES)  # fmt: skip

    @app.post("/persons/{person_id}/maternity")
    def maternity(
        ctx: FormCtx,
        person_id: PersonId,
        birth_date: Annotated[str, Form(max_length=20)] = "",
        difficult: Annotated[str, Form(max_length=10)] = "",
        babies: Annotated[str, Form(max_length=10)] = "",
        wage: Annotated[str, Form(max_length=40)] = "",
    ) -> Response:
        staff = ctx.require("benefit:pay")
        values = {"birth_date": birth_date, "difficult": difficult, "babies": babies,
                  "wage": wage}  # fmt: skip
        fields = {f: f for f in ("birth_date", "babies", "wage")}
        try:
            _check_fields(values)
            day = _date(birth_date, "birth_date")
            count = babies.strip()
            if not (count.isascii() and count.isdigit()) or not 1 <= int(count) <= MAX_BABIES:
                raise InvalidField("babies", f"must be a whole number from 1 to {MAX_BABIES}")
            given = parse_yuan(wage.strip(), "wage") if wage.strip() else None
            birth = Birth(day, difficult == "yes", int(count))
            paid = svc.maternity_allowance(ctx.uow(), staff, person_id, birth, given)
        except NotFound:
            raise
        except (RecordError, ValueError) as exc:  # AmountError names its field too
            return _render(ctx, "maternity.html", 422, person_id=person_id, values=values,
                           errors=_errors(ctx, exc, fields), paid=None,
                           max_babies=MAX_BABIES)  # fmt: skip
        return _render(ctx, "maternity.html", person_id=person_id, values=values, errors={},
                       paid=paid, max_babies=MAX_BABIES)  # fmt: skip


__all__ = ["benefit_routes"]
