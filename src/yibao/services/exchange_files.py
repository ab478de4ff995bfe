"""Files exchanged with institutions and the detail reconciliation they carry (对明细账).

An institution uploads a file (the platform's 9101) and gets its ``file_qury_no``; 3202 names
that number, yibao reads the file (``domain.detail_reconciliation``), compares it with the
centre's settlements of the period and stores the differences as a result file, which the
institution downloads (9102). A file is its uploader's: another institution never sees it;
staff see every file. Files can be downloaded for ``KEEP_DAYS`` days.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from yibao.domain.detail_reconciliation import (
    MAX_BYTES,
    DetailDifference,
    compare_details,
    read_detail_file,
    result_file,
)
from yibao.domain.errors import InvalidField, NotFound
from yibao.services.statements import DayStatement, period_details, period_statement
from yibao.store.api_models import ExchangeFileRow
from yibao.store.uow import UnitOfWork

#: How long a file can be downloaded (the answer's ``dld_endtime``).
KEEP_DAYS = 7


@dataclass(frozen=True)
class ExchangeFile:
    file_qury_no: str
    institution: str
    kind: str
    filename: str
    size: int
    sha256: str
    expires_at: dt.datetime
    content: bytes


@dataclass(frozen=True)
class DetailStatement:
    """A 3202: the period's totals (as 3201), the rows compared, the differences and the
    result file holding them."""

    totals: DayStatement
    rows: int
    differences: list[DetailDifference]
    result: ExchangeFile


def check_filename(name: str) -> str:
    if not name or len(name) > 200 or not name.isprintable() or any(c in name for c in "/\\"):
        raise InvalidField("filename", "1 to 200 printable characters, no / or \\")
    return name


def _file(row: ExchangeFileRow) -> ExchangeFile:
    return ExchangeFile(
        row.file_qury_no,
        row.institution,
        row.kind,
        row.filename,
        row.size,
        row.sha256,
        row.expires_at,
        row.content,
    )


def _store(
    uow: UnitOfWork, institution: str, kind: str, filename: str, content: bytes, now: dt.datetime
) -> ExchangeFile:
    row = ExchangeFileRow(
        file_qury_no=f"F{now:%Y%m%d}{secrets.token_hex(12)}",
        institution=institution,
        kind=kind,
        filename=filename,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        created_at=now,
        expires_at=now + dt.timedelta(days=KEEP_DAYS),
    )
    uow.session.add(row)
    uow.session.flush()
    return _file(row)


def upload(
    uow: UnitOfWork, institution: str, filename: str, content: bytes, now: dt.datetime
) -> ExchangeFile:
    """Keep an institution's file (9101); its number names it in 3202 and 9102."""
    check_filename(filename)
    if not content:
        raise InvalidField("in", "the file is empty")
    if len(content) > MAX_BYTES:
        raise InvalidField("in", f"{len(content)} bytes, at most {MAX_BYTES}")
    with uow:
        stored = _store(uow, institution, "upload", filename, content, now)
        uow.commit()
    return stored


def _find(uow: UnitOfWork, file_qury_no: str, institution: str | None) -> ExchangeFileRow:
    row = uow.session.scalar(
        select(ExchangeFileRow).where(ExchangeFileRow.file_qury_no == file_qury_no)
    )
    if row is None or (institution is not None and row.institution != institution):
        raise NotFound("file", file_qury_no)  # another institution's file is not there for it
    return row


def download(
    uow: UnitOfWork, file_qury_no: str, institution: str | None, now: dt.datetime
) -> ExchangeFile:
    """A file by its number (9102): the caller's own (``institution``), or any for staff
    (``None``); refused after its ``expires_at``."""
    with uow:
        row = _find(uow, file_qury_no, institution)
        if now > row.expires_at:
            raise InvalidField(
                "file_qury_no", f"{file_qury_no} could be downloaded until {row.expires_at}"
            )
        return _file(row)


def reconcile_details(
    uow: UnitOfWork,
    institution: str,
    file_qury_no: str,
    first: dt.date,
    last: dt.date,
    claimed: dict[str, int],
    now: dt.datetime,
    *,
    scheme: str | None = None,
    area: str | None = None,
) -> DetailStatement:
    """3202: the institution's uploaded detail file against the centre's settlements and
    reversals of [first, last] (and ``claimed`` totals, as 3201); the differences are kept
    as a result file of the institution's. A bad file is refused whole, naming its lines."""
    with uow:
        row = _find(uow, file_qury_no, institution)
        if row.kind != "upload":
            raise InvalidField("file_qury_no", f"{file_qury_no} is not a file the institution sent")
        theirs = read_detail_file(row.content)
    totals = period_statement(uow, institution, first, last, claimed, scheme=scheme, area=area)
    ours = period_details(uow, institution, first, last, scheme=scheme, area=area)
    differences = compare_details(theirs, ours)
    name = f"3202_{institution}_{first:%Y%m%d}_{last:%Y%m%d}.txt"
    with uow:
        result = _store(uow, institution, "result", name, result_file(differences), now)
        uow.commit()
    return DetailStatement(totals, len(theirs), differences, result)
