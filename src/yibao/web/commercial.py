"""The console's supplementary commercial insurance (惠民保) pages (``commercial_routes``): a
person's purchases with the buy form (the products on sale in the person's area) and cancel,
reached from the person's file; the month's statement per insurer, with the form that records an
insurer's payment of it (fund managers). Each route checks the
session, the form's CSRF token and the role's action, then calls
``services.console_commercial`` (the same service as the command line and the API) and renders;
a refusal is shown next to the field it names."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import FastAPI, Form, Path
from fastapi.responses import Response

from yibao.domain.errors import NotFound, RecordError
from yibao.domain.masking import mask_ids_in
from yibao.rules.errors import InvalidField
from yibao.services import clock
from yibao.services import console_commercial as svc
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

#: A purchase's id as the store holds it.
PurchaseId = Annotated[int, Path(ge=1, le=2**62)]
#: What a redirect back to the purchases may say.
DONE = ("bought", "cancelled")


def _said(ctx: Ctx, exc: Exception) -> str:
    """A refusal's message, national IDs masked unless the role sees identities."""
    assert ctx.staff is not None
    return str(exc) if ctx.staff.sees_identity else mask_ids_in(str(exc))


def _year(value: str) -> int | None:
    """The coverage year of the form (empty: the one on sale today)."""
    text = value.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) == 4):
        raise InvalidField("year", f"{value!r} is not a year (YYYY)")
    return int(text)


def _last_month() -> str:
    first = clock.today().replace(day=1)
    return f"{first - dt.timedelta(days=1):%Y-%m}"


def commercial_routes(app: FastAPI) -> None:
    def page(
        ctx: Ctx, person_id: int, values: dict[str, str], errors: dict[str, str],
        status: int = 200, done: str | None = None,
    ) -> Response:  # fmt: skip
        assert ctx.staff is not None
        file = svc.commercial_file(ctx.uow(), ctx.staff, person_id, clock.today())
        return _render(ctx, "commercial.html", status, f=file, values=values, errors=errors,
                       done=done if done in DONE else None)  # fmt: skip

    @app.get("/persons/{person_id}/commercial")
    def purchases(ctx: StaffCtx, person_id: PersonId, done: str | None = None) -> Response:
        ctx.require("commercial:read")
        return page(ctx, person_id, {"product": "", "year": "", "reason": ""}, {}, done=done)

    @app.post("/persons/{person_id}/commercial/buy")
    def buy(
        ctx: FormCtx,
        person_id: PersonId,
        product: Annotated[str, Form(max_length=40)] = "",
        year: Annotated[str, Form(max_length=10)] = "",
    ) -> Response:
        staff = ctx.require("commercial:buy")
        values = {"product": product, "year": year, "reason": ""}
        try:
            _check_fields({"product": product, "year": year})
            svc.buy(ctx.uow(), staff, person_id, product.strip(), _year(year))
        except NotFound:
            raise
        except (RecordError, ValueError) as exc:
            name = getattr(exc, "field", None)
            key = name if name in ("product", "year") else "general"
            return page(ctx, person_id, values, {key: _said(ctx, exc)}, 422)
        return _redirect(f"{PREFIX}/persons/{person_id}/commercial?done=bought")

    @app.post("/persons/{person_id}/commercial/{purchase_id}/cancel")
    def cancel(
        ctx: FormCtx,
        person_id: PersonId,
        purchase_id: PurchaseId,
        reason: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        staff = ctx.require("commercial:buy")
        values = {"product": "", "year": "", "reason": reason}
        try:
            _check_fields({"reason": reason})
            svc.cancel(ctx.uow(), staff, person_id, purchase_id, reason.strip())
        except NotFound:
            raise
        except (RecordError, ValueError) as exc:
            return page(ctx, person_id, values, {f"cancel{purchase_id}": _said(ctx, exc)}, 422)
        return _redirect(f"{PREFIX}/persons/{person_id}/commercial?done=cancelled")

    def statement_page(
        ctx: Ctx, shown: str, errors: dict[str, str], done: str | None = None,
        values: dict[str, str] | None = None,
    ) -> Response:  # fmt: skip
        assert ctx.staff is not None
        found = None
        try:
            _check_fields({"month": shown})
            found = svc.statement(ctx.uow(), ctx.staff, shown.strip())
        except (RecordError, ValueError) as exc:
            errors = {**errors, "month": _said(ctx, exc)}
        return _render(ctx, "commercial_statement.html", 422 if errors else 200, s=found,
                       values={"month": shown, "on": "", **(values or {})}, errors=errors,
                       done=done == "collected", today=clock.today())  # fmt: skip

    @app.get("/commercial/statement")
    def statement(ctx: StaffCtx, month: str = "", done: str | None = None) -> Response:
        ctx.require("commercial:statement")
        return statement_page(ctx, month[:20] or _last_month(), {}, done)

    @app.post("/commercial/statement/collect")
    def collect(
        ctx: FormCtx,
        month: Annotated[str, Form(max_length=7)] = "",
        insurer: Annotated[str, Form(max_length=100)] = "",
        on: Annotated[str, Form(max_length=10)] = "",
    ) -> Response:
        staff = ctx.require("commercial:collect")
        try:
            _check_fields({"month": month, "insurer": insurer, "on": on})
            day = _date(on, "on") if on.strip() else clock.today()
            svc.collect(ctx.uow(), staff, month.strip(), insurer.strip(), day)
        except (RecordError, ValueError) as exc:
            said = {"collect": _said(ctx, exc)}
            return statement_page(ctx, month, said, values={"on": on, "insurer": insurer})
        return _redirect(f"{PREFIX}/commercial/statement?month={month.strip()}&done=collected")


__all__ = ["commercial_routes"]
