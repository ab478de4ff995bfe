"""``yibao demo``: what the embedded default shows on a fresh machine.

The shipped parameter sets, a small synthetic pooling area (``yibao.services.demo``: generated
and loaded into an embedded SQLite database on first run, reused later) with its figures beside
the published ones, its fund balances from the ledger, and the shipped example scenario settled
layer by layer.

``yibao demo --serve`` (what ``./dev run`` does) then starts the institution API on that
database, on 127.0.0.1 and port ``$YIBAO_PORT`` (default 8000), with a master secret, a demo
institution and an administrator account, writes the request bodies of a 1101 and a 2207 for a
demo person (``1101.json``, ``2207.json``), and prints the commands that sign and send them.
"""

from __future__ import annotations

import json
import os
import shlex
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from yibao.calc.scenario import read_scenario
from yibao.calc.settle import settle_scenario
from yibao.cli.options import with_policy_dir
from yibao.cli.synth import summary_table
from yibao.domain.errors import RecordError
from yibao.domain.masking import mask_national_id
from yibao.policy import Policy, available_regions, fen_to_yuan
from yibao.services import demo as area
from yibao.services.area_load import AreaLoadRefused
from yibao.synth.config import SynthConfig
from yibao.synth.summary import summarize

PORT_ENV = "YIBAO_PORT"
DEMO_HOST, DEMO_PORT = "127.0.0.1", 8000

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


def prepare_area(console: Console) -> tuple[Path, str]:
    """The demo area and its database URL, saying whether it was generated, loaded or reused."""

    def generating(config: SynthConfig, folder: Path) -> None:
        console.print(
            f"Generating a synthetic area: {config.persons:,} persons of {config.region}, "
            f"{config.year}, seed {config.seed} -> {folder}"
        )

    columns = (TextColumn("[bold]loading persons"), BarColumn(), MofNCompleteColumn())
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("load", total=None)
            prepared = area.prepare_area(
                generating, lambda done, total: bar.update(task, completed=done, total=total)
            )
    except AreaLoadRefused as exc:
        console.print(f"[red]error:[/red] {exc} (remove {area.data_folder()} to start afresh)")
        raise typer.Exit(2) from exc
    report = prepared.report
    if report.parts_loaded:
        console.print(
            f"Loaded into {prepared.database}: {report.persons_inserted:,} persons, "
            f"{sum(report.contributions.values()):,} contributions, "
            f"{report.settlements:,} settlements, "
            f"{report.transactions:,} ledger transactions ({prepared.seconds:.1f} s)"
        )
    else:
        console.print(
            f"Reusing the synthetic area in {prepared.folder} (database {prepared.database})"
        )
    return prepared.folder, prepared.url


def funds_table(url: str, code: str) -> Table:
    report, check = area.area_funds(url, code)
    state = "balanced" if check.ok else "NOT balanced"
    table = Table(
        title=f"Fund balances of {code} from the ledger, yuan "
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


def dip_table(console: Console, url: str) -> None:
    """The demo area's DIP year-end (run once, then shown as stored)."""
    try:
        found = area.dip_year_end(url)
    except RecordError as exc:  # e.g. a stay without a principal diagnosis: say so, go on
        console.print(f"DIP year-end {area.DEMO_YEAR}: not run: {exc}")
        return
    if found is None:
        console.print(f"DIP year-end {area.DEMO_YEAR}: no discharged stay in the demo area")
        return
    d = found.as_dict()
    table = Table(
        title=f"DIP year-end {d['year']} of {d['area']}: {d['cases']} stays, point value "
        f"{d['point_value']} yuan (yibao dip settle), yuan"
    )
    for name in ("institution", "cases", "points", "fund_due", "advanced", "settlement"):
        table.add_column(name, justify="left" if name == "institution" else "right")
    for i in d["institutions"]:
        table.add_row(
            *(
                str(i[k])
                for k in ("institution", "cases", "points", "fund_due", "advanced", "settlement")
            )
        )
    console.print(table)


@with_policy_dir
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
    console.print(funds_table(url, area.DEMO_REGION))
    dip_table(console, url)
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


def demo_secret(console: Console, folder: Path) -> tuple[str, Path | None]:
    """The master secret and its file (None: from the environment), saying where it is from."""
    secret = area.demo_secret(folder)
    env = area.SECRET_ENV
    if secret.file is None:
        console.print(f"API master secret: from ${env}", soft_wrap=True)
    elif secret.made:
        console.print(
            f"API master secret: ${env} is not set, so a random one was generated into "
            f"{secret.file} (mode 0600, reused on later runs; for this demo only)",
            soft_wrap=True,
        )
    else:
        console.print(f"API master secret: from {secret.file} (${env} is not set)", soft_wrap=True)
    return secret.value, secret.file


def _yibao_command() -> str:
    local = Path(".venv") / "bin" / "yibao"
    return str(local) if local.exists() else "yibao"


def curl_command(
    base: str, body: Path, url: str, secret_file: Path | None, yibao: str | None = None
) -> str:
    """The shell command (bash or zsh) that signs ``body`` and sends it with curl."""
    q = shlex.quote
    sign = [yibao or _yibao_command(), "api", "sign", "--institution", area.DEMO_INSTITUTION]
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
    from yibao.cli.api import serve

    port = int(os.environ.get(PORT_ENV) or DEMO_PORT)
    secret, secret_file = demo_secret(console, folder)
    os.environ[area.SECRET_ENV] = secret
    os.environ["YIBAO_DATABASE_URL"] = url
    key_id, made = area.ensure_institution(url, secret)
    state = "registered" if made else "already registered"
    console.print(
        f"Demo institution {area.DEMO_INSTITUTION} (level {area.DEMO_LEVEL}, "
        f"{area.DEMO_REGION}): {state}, key id {key_id}",
        highlight=False,
        soft_wrap=True,
    )
    password_file, made = area.ensure_admin(url, folder)
    state = "created" if made else "exists"
    where = (
        f"password in {password_file}"
        if password_file.exists()
        else f"made earlier, {password_file} is gone: yibao api add-staff for another account"
    )
    console.print(
        f"Demo administrator account {area.DEMO_ADMIN!r}: {state} ({where}; "
        "POST /api/v1/auth/token for a bearer token)",
        highlight=False,
        soft_wrap=True,
    )
    staff_files = [
        (name, role, area.ensure_staff(url, folder, name, role)[0])
        for name, role in area.DEMO_STAFF
    ]
    on = area.DEMO_CLAIM_DATE
    person = area.pick_person(url, on)
    paths = {}
    for infno, doc in area.demo_bodies(person, on).items():
        paths[infno] = folder / f"{infno}.json"
        paths[infno].write_text(json.dumps(doc, ensure_ascii=False) + "\n")
    base = f"http://{DEMO_HOST}:{port}"
    waiting = "benefits in force" if person.entitled else "in a waiting period: all self-paid"
    lines = [
        "",
        f"API docs: {base}/docs",
        f"Staff console: {base}/console/ (中文; English from the page's language switch)",
        f"  sign in as {area.DEMO_ADMIN!r} (administrator; password in {password_file})",
        *(f"  or as {name!r} ({role}; password in {path})" for name, role, path in staff_files),
        f"Demo person: psn_no {person.psn_no}, national ID "
        f"{mask_national_id(person.national_id) or ''} "
        f"({person.scheme or 'not enrolled'}; {waiting} on {on.isoformat()})",
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
