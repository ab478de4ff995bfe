"""The console's pages and forms (``create_console``): each route checks the session, the CSRF
token of a form, and the role (``domain.roles``: the action it needs), then calls a service and
renders a template. Errors of a form are shown next to its field."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from yibao.domain.errors import NotFound, RecordError
from yibao.domain.registry import check_area
from yibao.domain.text import check_identifier
from yibao.policy import fen_to_yuan
from yibao.policy.money import AmountError, parse_yuan
from yibao.rules.errors import InvalidField
from yibao.services import clock, contributions, enrolment
from yibao.services import console as svc
from yibao.services import console_benefits as benefits_svc
from yibao.services.access import revoke_key
from yibao.store.uow import UnitOfWork
from yibao.web import charts, i18n
from yibao.web.session import (
    LANG_COOKIE,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    csrf_matches,
    csrf_token,
    new_presession,
    read_session,
    session_value,
)

log = logging.getLogger("yibao.web")
HERE = FilePath(__file__).parent
PREFIX = "/console"


@dataclass(frozen=True)
class ConsoleConfig:
    engine: Engine
    secret: str
    #: lifetime of the staff token behind a session (the API's token lifetime)
    token_ttl_seconds: int = 8 * 3600
    #: a session without a request for this long is signed out
    idle_seconds: int = 900
    #: mark cookies Secure (served over HTTPS)
    secure_cookies: bool = False


class Refused(Exception):
    """A page or action the request may not have: ``status`` and what to say."""

    def __init__(self, status: int, message: str, ctx: Ctx | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.ctx = ctx


@dataclass
class Ctx:
    request: Request
    config: ConsoleConfig
    lang: str
    staff: svc.Staff | None = None
    token: str | None = None

    def _(self, text: str) -> str:
        return i18n.translations(self.lang).gettext(text)

    def uow(self) -> UnitOfWork:
        return UnitOfWork.for_engine(self.config.engine)

    @property
    def csrf(self) -> str:
        assert self.token is not None
        return csrf_token(self.config.secret, self.token)

    def require(self, action: str) -> svc.Staff:
        assert self.staff is not None
        if not self.staff.may(action):
            raise Refused(403, self._("Your role may not do this."), self)
        return self.staff


def _config(request: Request) -> ConsoleConfig:
    config: ConsoleConfig = request.app.state.console
    return config


def _lang(request: Request) -> str:
    return i18n.language(request.cookies.get(LANG_COOKIE))


class SignInNeeded(Exception):
    pass


def staff_ctx(request: Request) -> Ctx:
    """The signed-in staff member (else a redirect to the sign-in page); the session's idle
    clock restarts (the cookie is renewed by the middleware)."""
    config = _config(request)
    ctx = Ctx(request, config, _lang(request))
    found = read_session(config.secret, request.cookies.get(SESSION_COOKIE), config.idle_seconds)
    if found is None:
        raise SignInNeeded()
    staff = svc.staff_of(ctx.uow(), found.token)
    if staff is None:
        raise SignInNeeded()
    ctx.staff, ctx.token = staff, found.token
    request.state.renew = session_value(config.secret, found.token)
    return ctx


StaffCtx = Annotated[Ctx, Depends(staff_ctx)]
#: A person number (``persons.id``) as the store holds it.
PersonId = Annotated[int, Path(ge=1, le=2**62)]


async def checked_form(request: Request, ctx: StaffCtx) -> Ctx:
    """A signed-in POST whose form carries the session's CSRF token (else 403)."""
    form = await request.form()
    sent = form.get("csrf")
    if ctx.token is None or not csrf_matches(
        ctx.config.secret, ctx.token, sent if isinstance(sent, str) else None
    ):
        raise Refused(403, ctx._("The form is missing its security token; reload the page."), ctx)
    return ctx


FormCtx = Annotated[Ctx, Depends(checked_form)]


def _render(
    ctx: Ctx, name: str, status: int = 200, **values: Any
) -> HTMLResponse:  # pragma: no cover - trivial
    templates: Jinja2Templates = ctx.request.app.state.templates
    return templates.TemplateResponse(
        ctx.request,
        name,
        {
            "_": ctx._,
            "lang": ctx.lang,
            "languages": i18n.LANGUAGES,
            "staff": ctx.staff,
            "csrf": ctx.csrf if ctx.token else "",
            "yuan": fen_to_yuan,
            "path": ctx.request.url.path,
            **values,
        },
        status_code=status,
    )


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _check_fields(values: dict[str, str]) -> None:
    """No control, invisible or direction-changing character in any field (named if so)."""
    for name, value in values.items():
        check_identifier(name, value)


def _field_errors(exc: Exception, fields: tuple[str, ...], fallback: str) -> dict[str, str]:
    name = getattr(exc, "field", None)
    key = name if name in fields else fallback
    return {key: str(exc)}


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidField(name, f"{value!r} is not a date (YYYY-MM-DD)") from None


# ------------------------------------------------------------------------------------ the app


def create_console(config: ConsoleConfig) -> FastAPI:
    """The console application, mounted at ``/console`` by the API's application."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = config
    app.state.templates = Jinja2Templates(directory=HERE / "templates")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def cookies_and_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        renew = getattr(request.state, "renew", None)
        if renew and SESSION_COOKIE not in response.headers.get("set-cookie", ""):
            _set_session(response, config, renew)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'"
        )
        return response

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, _exc: SignInNeeded) -> Response:
        if request.method != "GET":
            ctx = Ctx(request, config, _lang(request))
            return _render(ctx, "error.html", 403, message=ctx._("Sign in first."))
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = _redirect(f"{PREFIX}/signin?next={quote(target)}")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        ctx = exc.ctx or Ctx(request, config, _lang(request))
        return _render(ctx, "error.html", exc.status, message=exc.message)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        ctx = Ctx(request, config, _lang(request))
        return _render(ctx, "error.html", 404, message=ctx._("Not found."))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        ctx = Ctx(request, config, _lang(request))
        return _render(ctx, "error.html", 404, message=ctx._("Not found."))

    from yibao.web.commercial import commercial_routes  # imports this module's helpers

    commercial_routes(app)
    _routes(app, config)
    from yibao.web.benefits import benefit_routes  # imports this module's helpers

    benefit_routes(app)
    return app


def _set_session(response: Response, config: ConsoleConfig, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=config.token_ttl_seconds,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=config.secure_cookies,
    )


def _safe_next(value: str | None) -> str:
    if value and value.startswith(PREFIX + "/") and "//" not in value and "\\" not in value:
        return value
    return f"{PREFIX}/"


def _routes(app: FastAPI, config: ConsoleConfig) -> None:
    @app.get("/", include_in_schema=False)
    def home(ctx: StaffCtx) -> Response:
        """The first page the role may see."""
        assert ctx.staff is not None
        for action, page in (("person:read", "persons"), ("funds:read", "funds"),
                             ("admin:institutions", "institutions")):  # fmt: skip
            if ctx.staff.may(action):
                return _redirect(f"{PREFIX}/{page}")
        raise Refused(403, ctx._("Your role may not do this."), ctx)

    @app.get("/lang/{code}")
    def switch_language(code: str, next: str | None = None) -> Response:
        response = _redirect(_safe_next(next))
        response.set_cookie(
            LANG_COOKIE, i18n.language(code), max_age=365 * 86400, path=PREFIX, samesite="lax"
        )
        return response

    # ------------------------------------------------------------------- sign-in, sign-out
    @app.get("/signin")
    def signin_page(request: Request, next: str | None = None) -> Response:
        ctx = Ctx(request, config, _lang(request))
        pre = new_presession()
        response = _render(ctx, "signin.html", pre=pre, next=_safe_next(next), error=None)
        response.set_cookie(
            PRESESSION_COOKIE, pre, path=PREFIX, httponly=True, samesite="strict",
            secure=config.secure_cookies,
        )  # fmt: skip
        return response

    @app.post("/signin")
    def signin(
        request: Request,
        username: Annotated[str, Form(max_length=200)] = "",
        password: Annotated[str, Form(max_length=200)] = "",
        pre: Annotated[str, Form(max_length=100)] = "",
        next: Annotated[str, Form(max_length=500)] = "",
    ) -> Response:
        ctx = Ctx(request, config, _lang(request))
        cookie = request.cookies.get(PRESESSION_COOKIE)
        if not pre or cookie != pre:
            raise Refused(403, ctx._("The form is missing its security token; reload the page."))
        try:
            token, _staff = svc.sign_in(ctx.uow(), username, password, config.token_ttl_seconds)
        except svc.ConsoleRefused:
            fresh = new_presession()
            response = _render(
                ctx, "signin.html", 401, pre=fresh, next=_safe_next(next),
                error=ctx._("Unknown user, wrong password, or not a staff account."),
                username=username,
            )  # fmt: skip
            response.set_cookie(
                PRESESSION_COOKIE, fresh, path=PREFIX, httponly=True, samesite="strict",
                secure=config.secure_cookies,
            )  # fmt: skip
            return response
        done = _redirect(_safe_next(next))
        _set_session(done, config, session_value(config.secret, token))
        done.delete_cookie(PRESESSION_COOKIE, path=PREFIX)
        return done

    @app.post("/signout")
    def signout(ctx: FormCtx) -> Response:
        assert ctx.token is not None and ctx.staff is not None
        svc.sign_out(ctx.uow(), ctx.token, ctx.staff)
        ctx.request.state.renew = None
        response = _redirect(f"{PREFIX}/signin")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    # -------------------------------------------------------------------------- persons
    @app.get("/persons")
    def persons(ctx: StaffCtx, q: str = "") -> Response:
        staff = ctx.require("person:read")
        query = q[:100]
        hits = svc.search(ctx.uow(), staff, query) if query.strip() else None
        return _render(ctx, "search.html", q=query, hits=hits)

    @app.get("/persons/{person_id}")
    def person(ctx: StaffCtx, person_id: PersonId, done: str | None = None) -> Response:
        staff = ctx.require("person:read")
        view = svc.person_view(ctx.uow(), staff, person_id, clock.today())
        chronic = (
            benefits_svc.chronic_file(ctx.uow(), staff, person_id, clock.today())
            if staff.may("chronic:read")
            else None
        )
        return _render(ctx, "person.html", p=view, chronic=chronic, done=done)

    @app.get("/persons/{person_id}/enrol")
    def enrol_page(ctx: StaffCtx, person_id: PersonId) -> Response:
        ctx.require("person:enrol")
        values = {"kind": "resident", "area": "", "on": clock.today().isoformat(), "employer": ""}
        return _render(ctx, "enrol.html", person_id=person_id, values=values, errors={})

    @app.post("/persons/{person_id}/enrol")
    def enrol(
        ctx: FormCtx,
        person_id: PersonId,
        kind: Annotated[str, Form(max_length=20)] = "",
        area: Annotated[str, Form(max_length=20)] = "",
        on: Annotated[str, Form(max_length=20)] = "",
        employer: Annotated[str, Form(max_length=40)] = "",
    ) -> Response:
        staff = ctx.require("person:enrol")
        values = {"kind": kind, "area": area, "on": on, "employer": employer}
        fields = ("kind", "area", "on", "employer")
        try:
            _check_fields(values)
            check_area(area, "area")
            day = _date(on, "on")
            e = enrolment.enrol(
                ctx.uow(), person_id, kind, area, day, employer_code=employer.strip() or None
            )
        except NotFound:
            raise
        except (RecordError, ValueError) as exc:
            errors = _field_errors(exc, fields, "kind")
            return _render(
                ctx, "enrol.html", 422, person_id=person_id, values=values, errors=errors
            )
        svc.record_write(ctx.uow(), staff, "person:enrol", person_id, e.describe())
        return _redirect(f"{PREFIX}/persons/{person_id}?done=enrolled")

    @app.get("/persons/{person_id}/pay")
    def pay_page(ctx: StaffCtx, person_id: PersonId) -> Response:
        ctx.require("person:pay")
        values = {"kind": "resident", "period": str(clock.today().year), "amount": "",
                  "on": clock.today().isoformat()}  # fmt: skip
        return _render(ctx, "pay.html", person_id=person_id, values=values, errors={})

    @app.post("/persons/{person_id}/pay")
    def pay(
        ctx: FormCtx,
        person_id: PersonId,
        kind: Annotated[str, Form(max_length=20)] = "",
        period: Annotated[str, Form(max_length=20)] = "",
        amount: Annotated[str, Form(max_length=40)] = "",
        on: Annotated[str, Form(max_length=20)] = "",
    ) -> Response:
        staff = ctx.require("person:pay")
        values = {"kind": kind, "period": period, "amount": amount, "on": on}
        fields = ("kind", "period", "amount", "on")
        try:
            _check_fields(values)
            record = _pay(ctx.uow(), person_id, kind, period, amount, _date(on, "on"))
        except NotFound:
            raise
        except AmountError as exc:
            return _render(ctx, "pay.html", 422, person_id=person_id, values=values,
                           errors={"amount": str(exc)})  # fmt: skip
        except (RecordError, ValueError) as exc:
            errors = _field_errors(exc, fields, "kind")
            return _render(ctx, "pay.html", 422, person_id=person_id, values=values,
                           errors=errors)  # fmt: skip
        svc.record_write(
            ctx.uow(), staff, "person:pay", person_id,
            f"{record.kind.value} {record.period_start.isoformat()} total "
            f"{fen_to_yuan(record.total)}",
        )  # fmt: skip
        return _redirect(f"{PREFIX}/persons/{person_id}?done=paid")

    # ---------------------------------------------------------------------- settlements
    @app.get("/settlements/{setl_id}")
    def settlement(ctx: StaffCtx, setl_id: str, done: str | None = None) -> Response:
        staff = ctx.require("settlement:read")
        view = svc.settlement_view(ctx.uow(), staff, setl_id[:40])
        return _render(ctx, "settlement.html", s=view, errors={}, values={}, done=done,
                       may_reverse=staff.may("tx:2208"))  # fmt: skip

    @app.post("/settlements/{setl_id}/reverse")
    def reverse(
        ctx: FormCtx,
        setl_id: str,
        reason: Annotated[str, Form(max_length=400)] = "",
        confirm: Annotated[str, Form(max_length=10)] = "",
    ) -> Response:
        staff = ctx.require("tx:2208")
        errors: dict[str, str] = {}
        if confirm != "yes":
            errors["confirm"] = ctx._("Tick the box to confirm the reversal.")
        if len(reason.strip()) < 2:
            errors["reason"] = ctx._("Say why the settlement is reversed.")
        if not errors:
            try:
                svc.reverse_settlement(ctx.uow(), staff, setl_id[:40], reason)
                return _redirect(f"{PREFIX}/settlements/{quote(setl_id)}?done=reversed")
            except NotFound:
                raise
            except (RecordError, ValueError) as exc:
                errors["reason" if getattr(exc, "field", None) == "reason" else "general"] = str(
                    exc
                )
        view = svc.settlement_view(ctx.uow(), staff, setl_id[:40])
        return _render(ctx, "settlement.html", 422, s=view, errors=errors,
                       values={"reason": reason}, done=None, may_reverse=True)  # fmt: skip

    # ---------------------------------------------------------------------------- funds
    @app.get("/funds")
    def funds(ctx: StaffCtx) -> Response:
        ctx.require("funds:read")
        view = svc.funds_view(ctx.uow())
        names = {k: ctx._(FUND_NAMES.get(k, k)) for k in view.series}
        line = charts.line_chart(view.months, view.series, names)
        bars = charts.bar_chart([(ctx._(t), paid) for t, _n, _c, paid in view.layers])
        return _render(ctx, "funds.html", v=view, line=line, bars=bars, fund_names=FUND_NAMES)

    # --------------------------------------------------------------------- institutions
    @app.get("/institutions")
    def institutions(ctx: StaffCtx, done: str | None = None) -> Response:
        ctx.require("admin:institutions")
        rows = svc.institutions(ctx.uow())
        return _render(ctx, "institutions.html", rows=rows, done=done)

    @app.post("/institutions/{code}/keys/{key_id}/revoke")
    def revoke(ctx: FormCtx, code: str, key_id: str) -> Response:
        staff = ctx.require("admin:institutions")
        revoke_key(ctx.uow(), code[:32], key_id[:32], staff.actor, staff.role.value)
        return _redirect(f"{PREFIX}/institutions?done={quote(key_id[:32])}")


#: Fund account kinds as the console names them (message ids; the Chinese in the catalogue).
FUND_NAMES = {
    "employee_pooling": "Employee pooling fund",
    "resident_pooling": "Resident pooling fund",
    "critical_illness": "Critical illness insurance",
    "large_amount": "Large-amount subsidy",
    "medical_assistance": "Medical assistance",
    "cash": "Cash",
    "contributions_receivable": "Contributions receivable",
    "fiscal_subsidy_receivable": "Fiscal subsidy receivable",
    "employee_adjustment": "Employee adjustment fund",
    "resident_adjustment": "Resident adjustment fund",
    "opening_balance": "Opening balances",
    "institution_payable": "Owed to institutions",
    "institution_collected": "Cash collected by institutions",
    "cross_region_receivable": "Owed by other areas (cross-region care)",
    "cross_region_payable": "Owed to other areas (cross-region care)",
    "epidemic_advance": "Advanced to institutions (epidemic)",
}


def _pay(uow: UnitOfWork, person_id: int, kind: str, period: str, amount: str, on: dt.date) -> Any:
    """Record one payment as ``yibao pay`` does (the same services and checks)."""
    if kind in ("employee", "flexible", "retiree-credit"):
        try:
            year, month = period.strip().split("-")[:2]
            first = dt.date(int(year), int(month), 1)
        except ValueError:
            raise InvalidField("period", f"{period!r} is not YYYY-MM") from None
        if kind == "retiree-credit":
            return contributions.credit_retiree(uow, person_id, first, on)
        fen = parse_yuan(amount.strip(), "amount")
        pay_month = contributions.pay_employee if kind == "employee" else contributions.pay_flexible
        return pay_month(uow, person_id, first, fen, on)
    if kind == "resident":
        if not (period.strip().isascii() and period.strip().isdigit() and len(period.strip()) == 4):
            raise InvalidField("period", f"{period!r} is not a year (YYYY)")
        return contributions.pay_resident(uow, person_id, int(period.strip()), on)
    raise InvalidField("kind", f"{kind!r} is not employee|flexible|resident|retiree-credit")
