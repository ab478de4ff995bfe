"""``yibao demo``: what the embedded default shows on a fresh machine.

On first run it generates a small synthetic pooling area (``DEMO_PERSONS`` persons of 360100,
2025, a fixed seed) into the data folder (``$YIBAO_DATA_DIR``, default ``./data/demo``) and loads
it into the embedded SQLite database there (``yibao.sqlite``); later runs reuse both. It shows
the shipped parameter sets, the area's figures beside the published ones, the fund balances
from the ledger, and settles the shipped example scenario layer by layer.
``$YIBAO_DEMO_PERSONS`` changes the size of the area (the tests use a few hundred).

``yibao demo --serve`` (what ``./dev run`` does) then starts the institution API on that
database, on 127.0.0.1 and port ``$YIBAO_PORT`` (default 8000). Without ``$YIBAO_API_SECRET`` it
uses a random master secret kept in the data folder (``api-secret``, mode 0600, made on the first
run). It registers a demo institution (``DEMO_INSTITUTION``, level 2) and an administrator
account (``admin``, password in ``admin-password``) when missing, writes the request bodies of a
1101 and a 2207 for a demo person (``1101.json``, ``2207.json``), and prints the commands that
sign and send them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shlex
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from yibao.calc.scenario import read_scenario
from yibao.calc.settle import settle_scenario
from yibao.policy import Policy, available_regions, fen_to_yuan
from yibao.policy_option import with_policy_dir
from yibao.services import ledger
from yibao.services.area_load import AreaLoadRefused, load_area
from yibao.store.uow import UnitOfWork
from yibao.synth.cli import summary_table
from yibao.synth.config import SynthConfig
from yibao.synth.summary import summarize
from yibao.synth.writer import generate, read_manifest

DATA_ENV = "YIBAO_DATA_DIR"
PERSONS_ENV = "YIBAO_DEMO_PERSONS"
DEFAULT_DATA = Path("data") / "demo"
DEMO_REGION, DEMO_YEAR, DEMO_SEED, DEMO_PERSONS = "360100", 2025, 20250101, 5_000
PORT_ENV = "YIBAO_PORT"
SECRET_ENV = "YIBAO_API_SECRET"
DEMO_HOST, DEMO_PORT = "127.0.0.1", 8000
DEMO_INSTITUTION, DEMO_INSTITUTION_NAME, DEMO_LEVEL = "H36010000001", "南昌示范医院 (demo)", 2
DEMO_ADMIN = "admin"
#: The date of the demo claim and of the 1101 query: inside the demo area's year.
DEMO_CLAIM_DATE = dt.date(DEMO_YEAR, 6, 1)

LAYERS = (
    "medfee_sumamt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
)


def example(name: str) -> str:
    return str(resources.files("yibao.calc") / "examples" / f"{name}.yaml")


def data_folder() -> Path:
    return Path(os.environ.get(DATA_ENV) or DEFAULT_DATA)


def demo_config() -> SynthConfig:
    persons = int(os.environ.get(PERSONS_ENV) or DEMO_PERSONS)
    return SynthConfig(DEMO_REGION, persons, DEMO_YEAR, DEMO_SEED)


def _same_area(folder: Path, config: SynthConfig) -> bool:
    if not (folder / "meta.json").exists():
        return False
    meta = read_manifest(folder)
    wanted = (config.region, config.persons, config.year, config.seed, config.chunk_size)
    found = (meta["region"], meta["persons"], meta["year"], meta["seed"], meta["chunk_size"])
    return wanted == found


def prepare_area(console: Console) -> tuple[Path, str]:
    """The demo area and its database URL: generated and loaded on first use, then reused."""
    folder = data_folder()
    config = demo_config()
    database = folder / "yibao.sqlite"
    url = f"sqlite:///{database}"
    started = time.perf_counter()
    if not _same_area(folder, config):
        console.print(
            f"Generating a synthetic area: {config.persons:,} persons of {config.region}, "
            f"{config.year}, seed {config.seed} -> {folder}"
        )
        for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            stale.unlink(missing_ok=True)
        generate(folder, config)
    try:
        report = load_area(folder, url)
    except AreaLoadRefused as exc:
        console.print(f"[red]error:[/red] {exc} (remove {folder} to start afresh)")
        raise typer.Exit(2) from exc
    if report.parts_loaded:
        console.print(
            f"Loaded into {database}: {report.persons_inserted:,} persons, "
            f"{sum(report.contributions.values()):,} contributions, "
            f"{report.transactions:,} ledger transactions "
            f"({time.perf_counter() - started:.1f} s)"
        )
    else:
        console.print(f"Reusing the synthetic area in {folder} (database {database})")
    return folder, url


def funds_table(url: str, area: str) -> Table:
    uow = UnitOfWork.for_url(url)
    report = ledger.funds_report(uow, area)
    check = ledger.reconcile(uow)
    state = "balanced" if check.ok else "NOT balanced"
    table = Table(
        title=f"Fund balances of {area} from the ledger, yuan "
        f"({check.transactions:,} transactions, {state})"
    )
    table.add_column("account")
    table.add_column("balance", justify="right")
    for line in report.lines:
        table.add_row(line.code, fen_to_yuan(line.balance))
    table.add_row(
        f"personal accounts ({report.personal_accounts:,})", fen_to_yuan(report.personal_total)
    )
    return table


def demo(
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Then start the API on the demo database (127.0.0.1, port $YIBAO_PORT or 8000)",
        ),
    ] = False,
) -> None:
    """Show the shipped regions, a synthetic area and its funds, and settle the example
    scenario layer by layer; with --serve, then serve the API on the demo database."""
    console = Console()
    regions = Table(title="Shipped parameter sets")
    regions.add_column("region")
    regions.add_column("name")
    regions.add_column("parent")
    for code in available_regions():
        policy = Policy(code)
        parent = policy.chain[1].region if len(policy.chain) > 1 else ""
        regions.add_row(code, policy.name, parent)
    console.print(regions)
    folder, url = prepare_area(console)
    summary = summarize(folder)
    console.print(summary_table(summary))
    for key, source in summary["sources"].items():
        console.print(f"{key}: {source}", highlight=False)
    console.print(funds_table(url, DEMO_REGION))
    path = example("settle")
    result = settle_scenario(read_scenario(path))
    rows = result["settlements"]
    table = Table(title="yibao calc settle (the example scenario), yuan")
    table.add_column("layer")
    for s in rows:
        table.add_column(f"{s['setl_time']} {s['med_type']}", justify="right")
    for field in LAYERS:
        table.add_row(field, *(s[field] for s in rows))
    console.print(table)
    console.print(f"scenario: {path}")
    console.print("Try: yibao calc settle|waiting|incentives SCENARIO  (see README.md)")
    if serve:
        serve_demo(console, folder, url)


# --------------------------------------------------------------------------- demo --serve


def _private_file(path: Path, make: Any) -> tuple[str, bool]:
    """The stripped content of ``path``, or a new value from ``make()`` written there with mode
    0600; and whether it was made now."""
    if path.exists():
        return path.read_text().strip(), False
    value = str(make())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value, True


def demo_secret(console: Console, folder: Path) -> tuple[str, Path | None]:
    """The master secret: ``$YIBAO_API_SECRET``, or a random one kept in the data folder (the
    file, or None when from the environment)."""
    given = os.environ.get(SECRET_ENV)
    if given:
        console.print(f"API master secret: from ${SECRET_ENV}", soft_wrap=True)
        return given, None
    path = folder / "api-secret"
    secret, made = _private_file(path, lambda: secrets.token_hex(32))
    if made:
        console.print(
            f"API master secret: ${SECRET_ENV} is not set, so a random one was generated into "
            f"{path} (mode 0600, reused on later runs; for this demo only)",
            soft_wrap=True,
        )
    else:
        console.print(f"API master secret: from {path} (${SECRET_ENV} is not set)", soft_wrap=True)
    return secret, path


@dataclass(frozen=True)
class DemoPerson:
    psn_no: int
    masked_id: str
    scheme: str
    entitled: bool


def pick_person(url: str, on: dt.date) -> DemoPerson:
    """The first adult (by person number) with an active enrolment who is out of any waiting
    period on ``on``: residents first, then anyone; failing that the first person."""
    from sqlalchemy import select

    from yibao.api.handlers_settlement import entitlement
    from yibao.api.security import mask_national_id
    from yibao.store.db import make_engine
    from yibao.store.models import EnrolmentRow

    engine = make_engine(url)
    try:
        with UnitOfWork.for_engine(engine) as uow:
            rows = uow.session.execute(
                select(EnrolmentRow.person_id, EnrolmentRow.scheme)
                .where(EnrolmentRow.status == "active", EnrolmentRow.start_date <= on)
                .order_by((EnrolmentRow.scheme != "resident"), EnrolmentRow.person_id)
                .limit(200)
            ).all()
            first: DemoPerson | None = None
            for person_id, scheme in rows:
                p = uow.persons.get(person_id)
                if p.age_on(on) < 18:
                    continue
                ent = entitlement(uow, p, on)
                found = DemoPerson(
                    person_id,
                    mask_national_id(p.label) or "",
                    scheme,
                    ent.get("in_waiting_period") is False,
                )
                if found.entitled:
                    return found
                first = first or found
            if first is not None:
                return first
            p = uow.persons.get(1)
            return DemoPerson(1, mask_national_id(p.label) or "", "", False)
    finally:
        engine.dispose()


def demo_bodies(person: DemoPerson, on: dt.date) -> dict[str, dict[str, Any]]:
    """The request bodies of the demo: 1101 (person and coverage) and 2207 (settle an
    inpatient claim at the demo institution's level)."""

    def envelope(infno: str, msgid: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "infno": infno,
            "msgid": msgid,
            "fixmedins_code": DEMO_INSTITUTION,
            "opter": "demo-clerk",
            "inf_time": f"{on.isoformat()} 10:00:00",
            "input": data,
        }

    psn_no = str(person.psn_no)
    return {
        "1101": envelope("1101", f"demo-1101-{psn_no}", {"psn_no": psn_no, "date": on.isoformat()}),
        "2207": envelope(
            "2207",
            f"demo-2207-{psn_no}",
            {
                "psn_no": psn_no,
                "date": on.isoformat(),
                "med_type": "inpatient",
                "total": "20000.00",
                "fully_self_paid": "1000.00",
                "over_limit": "0.00",
                "category_b": "0.00",
            },
        ),
    }


def ensure_institution(url: str, secret: str) -> tuple[str, bool]:
    """The demo institution's key id; registered (level 2, area 360100) when missing."""
    from yibao.api.cli import newest_key_id
    from yibao.api.routes import NewInstitution, issue_institution
    from yibao.store.db import make_engine

    key_id = newest_key_id(url, DEMO_INSTITUTION)
    if key_id is not None:
        return key_id, False
    engine = make_engine(url)
    try:
        issued = issue_institution(
            engine,
            secret,
            NewInstitution(
                code=DEMO_INSTITUTION,
                name=DEMO_INSTITUTION_NAME,
                level=DEMO_LEVEL,
                area=DEMO_REGION,
            ),
            None,
        )
    finally:
        engine.dispose()
    return issued.key_id, True


def ensure_admin(url: str, folder: Path) -> tuple[Path, bool]:
    """The demo administrator account (password in the data folder, mode 0600)."""
    from sqlalchemy.orm import Session

    from yibao.api.repository import ApiRepository
    from yibao.api.roles import Role
    from yibao.api.routes import NewStaff, create_staff
    from yibao.store.db import make_engine

    path = folder / "admin-password"
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            exists = ApiRepository(session).staff_by_name(DEMO_ADMIN) is not None
        if exists:
            return path, False
        password, _ = _private_file(path, lambda: secrets.token_urlsafe(18))
        create_staff(
            engine, NewStaff(username=DEMO_ADMIN, role=Role.ADMINISTRATOR, password=password), None
        )
    finally:
        engine.dispose()
    return path, True


def _yibao_command() -> str:
    local = Path(".venv") / "bin" / "yibao"
    return str(local) if local.exists() else "yibao"


def curl_command(
    base: str, body: Path, url: str, secret_file: Path | None, yibao: str | None = None
) -> str:
    """The shell command (bash or zsh) that signs ``body`` and sends it with curl."""
    q = shlex.quote
    sign = [yibao or _yibao_command(), "api", "sign", "--institution", DEMO_INSTITUTION]
    sign += ["--body", str(body), "--db", url]
    if secret_file is not None:
        sign += ["--secret-file", str(secret_file)]
    return (
        f"curl -s {q(base + '/api/v1/tx')} --data-binary @{q(str(body))} "
        f"-H @<({' '.join(q(a) for a in sign)})"
    )


def serve_demo(console: Console, folder: Path, url: str) -> None:
    """Prepare the API on the demo database (secret, institution, admin, request bodies), print
    how to use it, and serve it on 127.0.0.1:$YIBAO_PORT until interrupted."""
    from yibao.api.cli import serve

    port = int(os.environ.get(PORT_ENV) or DEMO_PORT)
    secret, secret_file = demo_secret(console, folder)
    os.environ[SECRET_ENV] = secret
    os.environ["YIBAO_DATABASE_URL"] = url
    key_id, made = ensure_institution(url, secret)
    state = "registered" if made else "already registered"
    console.print(
        f"Demo institution {DEMO_INSTITUTION} (level {DEMO_LEVEL}, {DEMO_REGION}): {state}, "
        f"key id {key_id}",
        highlight=False,
        soft_wrap=True,
    )
    password_file, made = ensure_admin(url, folder)
    state = "created" if made else "exists"
    where = (
        f"password in {password_file}"
        if password_file.exists()
        else f"made earlier, {password_file} is gone: yibao api add-staff for another account"
    )
    console.print(
        f"Demo administrator account {DEMO_ADMIN!r}: {state} ({where}; "
        "POST /api/v1/auth/token for a bearer token)",
        highlight=False,
        soft_wrap=True,
    )
    person = pick_person(url, DEMO_CLAIM_DATE)
    bodies = demo_bodies(person, DEMO_CLAIM_DATE)
    paths = {}
    for infno, doc in bodies.items():
        paths[infno] = folder / f"{infno}.json"
        paths[infno].write_text(json.dumps(doc, ensure_ascii=False) + "\n")
    base = f"http://{DEMO_HOST}:{port}"
    waiting = "benefits in force" if person.entitled else "in a waiting period: all self-paid"
    lines = [
        "",
        f"API docs: {base}/docs",
        f"Demo person: psn_no {person.psn_no}, national ID {person.masked_id} "
        f"({person.scheme or 'not enrolled'}; {waiting} on {DEMO_CLAIM_DATE.isoformat()})",
        "Sign and send (bash or zsh, from this folder, while the server runs):",
        f"  1101 person and coverage ({paths['1101']}):",
        "    " + curl_command(base, paths["1101"], url, secret_file),
        f"  2207 settle an inpatient claim of 20000.00 yuan ({paths['2207']}):",
        "    " + curl_command(base, paths["2207"], url, secret_file),
        "Sending the same msgid again returns the first answer. Ctrl-C stops the server.",
        "",
    ]
    for line in lines:
        print(line, flush=True)
    serve(host=DEMO_HOST, port=port, workers=1)


def register(app: typer.Typer) -> None:
    app.command("demo")(with_policy_dir(demo))
