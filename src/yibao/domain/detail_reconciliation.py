"""Detail reconciliation (对明细账, the platform's 3202): an institution's file of its
settlements, one line each, compared with the centre's settlements of the same period.

The file is what institutions send through file upload (9101): UTF-8 (or GBK) text, one
settlement per line, fields separated by tabs, in the order of ``DETAIL_COLUMNS`` (an optional
first line naming them is skipped), optionally inside a zip archive. A reversed settlement (退费)
is a line of its own with ``refd_setl_flag`` 1 and the reversed amounts as positive figures; the
centre holds it under the same ``setl_id``. The answer is a result file of the differences.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

from yibao.domain.errors import InvalidField
from yibao.policy import fen_to_yuan
from yibao.policy.money import AmountError, parse_yuan

#: The detail file's fields, in order.
DETAIL_COLUMNS = (
    "setl_id",
    "psn_no",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
    "refd_setl_flag",
)
#: The amounts compared, fen inside.
DETAIL_AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")
#: A file's most lines and bytes (unpacked): a month of a large hospital fits.
MAX_LINES = 500_000
MAX_BYTES = 64 * 1024 * 1024
#: At most this many bad lines are named in one refusal.
MAX_NAMED = 10


@dataclass(frozen=True)
class DetailRow:
    """One settlement (or its reversal) as a side of the reconciliation holds it."""

    setl_id: str
    psn_no: str
    refund: bool
    amounts: tuple[int, int, int]  # DETAIL_AMOUNTS, fen

    @property
    def key(self) -> tuple[str, bool]:
        return (self.setl_id, self.refund)


@dataclass(frozen=True)
class DetailDifference:
    """One settlement on which the two sides differ: ``kind`` is ``not_at_centre`` (only in
    the institution's file), ``not_at_institution`` (only at the centre) or ``amounts``
    (``fields`` lists (name, institution's, centre's) for each amount that differs)."""

    setl_id: str
    refund: bool
    kind: str
    psn_no: str
    fields: tuple[tuple[str, int, int], ...] = ()


def _text(content: bytes) -> str:
    if content[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise InvalidField("file", "a zip archive must hold exactly one text file")
                if members[0].file_size > MAX_BYTES:
                    raise InvalidField("file", f"unpacked it is over {MAX_BYTES} bytes")
                content = archive.read(members[0])
        except zipfile.BadZipFile:
            raise InvalidField("file", "not a readable zip archive") from None
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidField("file", "neither UTF-8 nor GBK text")


def _row(number: int, fields: list[str]) -> DetailRow:
    where = f"file line {number}"
    if len(fields) != len(DETAIL_COLUMNS):
        raise InvalidField(
            where,
            f"{len(fields)} fields, expected {len(DETAIL_COLUMNS)} separated by tabs: "
            + ", ".join(DETAIL_COLUMNS),
        )
    setl_id, psn_no, *amounts, flag = (f.strip() for f in fields)
    if not setl_id or len(setl_id) > 40 or not setl_id.isprintable():
        raise InvalidField(f"{where}: setl_id", "missing, or longer than 40 characters")
    if len(psn_no) > 40 or not psn_no.isprintable():
        raise InvalidField(f"{where}: psn_no", "longer than 40 characters")
    if flag not in ("0", "1"):
        raise InvalidField(f"{where}: refd_setl_flag", f"{flag!r}: must be 0 or 1")
    try:
        fen = tuple(
            parse_yuan(value, f"{where}: {name}")
            for name, value in zip(DETAIL_AMOUNTS, amounts, strict=True)
        )
    except AmountError as exc:
        raise InvalidField(exc.field, exc.reason) from None
    return DetailRow(setl_id, psn_no, flag == "1", (fen[0], fen[1], fen[2]))


def read_detail_file(content: bytes) -> list[DetailRow]:
    """The rows of an institution's detail file; ``InvalidField`` naming the first bad lines
    (up to ``MAX_NAMED``), so the whole file is refused and nothing is compared."""
    lines = _text(content).splitlines()
    if lines and lines[0].split("\t")[0].strip() == DETAIL_COLUMNS[0]:
        lines[0] = ""
    if len(lines) > MAX_LINES:
        raise InvalidField("file", f"{len(lines)} lines, at most {MAX_LINES}")
    rows: list[DetailRow] = []
    problems: list[str] = []
    seen: dict[tuple[str, bool], int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = _row(number, line.split("\t"))
        except InvalidField as exc:
            problems.append(str(exc))
        else:
            if row.key in seen:
                problems.append(
                    f"file line {number}: setl_id: {row.setl_id} (refd_setl_flag "
                    f"{int(row.refund)}) repeats line {seen[row.key]}"
                )
            seen.setdefault(row.key, number)
            rows.append(row)
        if len(problems) >= MAX_NAMED:
            break
    if problems:
        raise InvalidField("file", "; ".join(problems))
    return rows


def compare_details(
    institution: Iterable[DetailRow], centre: Iterable[DetailRow]
) -> list[DetailDifference]:
    """Every settlement on which the institution's file and the centre differ, by
    ``setl_id`` then reversal."""
    theirs = {r.key: r for r in institution}
    ours = {r.key: r for r in centre}
    out: list[DetailDifference] = []
    for key in sorted(theirs.keys() | ours.keys()):
        t, o = theirs.get(key), ours.get(key)
        if o is None:
            assert t is not None
            out.append(DetailDifference(t.setl_id, t.refund, "not_at_centre", t.psn_no))
        elif t is None:
            out.append(DetailDifference(o.setl_id, o.refund, "not_at_institution", o.psn_no))
        else:
            fields = tuple(
                (name, a, b)
                for name, a, b in zip(DETAIL_AMOUNTS, t.amounts, o.amounts, strict=True)
                if a != b
            )
            if fields:
                out.append(DetailDifference(o.setl_id, o.refund, "amounts", o.psn_no, fields))
    return out


def result_file(differences: Iterable[DetailDifference]) -> bytes:
    """The result file the institution downloads (9102): a header, then one tab-separated
    line per difference: setl_id, refd_setl_flag, kind, psn_no, and for ``amounts`` each
    differing field as ``name=institution/centre`` (yuan)."""
    lines = ["setl_id\trefd_setl_flag\tkind\tpsn_no\tdetail"]
    for d in differences:
        detail = " ".join(f"{n}={fen_to_yuan(a)}/{fen_to_yuan(b)}" for n, a, b in d.fields)
        lines.append(f"{d.setl_id}\t{int(d.refund)}\t{d.kind}\t{d.psn_no}\t{detail}")
    return ("\n".join(lines) + "\n").encode()
