"""Fee detail lines of a visit: upload (2204) and cancel (2205). Either is all or nothing: a
bad line refuses the whole request, naming the line (its index and ``feedetl_sn``) and the
field, and nothing is stored. After either, the visit's live lines are classified again in one
pass and their classification stored beside them. An upload previewed (``preview_upload``, 2206
with lines) is checked and classified the same way, and nothing is written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from yibao.domain.enrolment import Enrolment
from yibao.domain.errors import (
    ForeignRecord,
    InvalidField,
    NotFound,
    RecordError,
    SettlementRefused,
)
from yibao.domain.fees import (
    APPROVAL_FLAGS,
    MAX_LINES_PER_UPLOAD,
    MAX_LINES_PER_VISIT,
    Diagnosis,
    FeeLine,
    LineSums,
    Procedure,
    parse_price,
    parse_quantity,
)
from yibao.domain.ids import NotStored
from yibao.domain.registry import Person
from yibao.domain.settlement import Visit, VisitStatus
from yibao.domain.text import bad_in_identifier, check_identifier
from yibao.kernel.classify import MAX_LINE_YUAN, PRICE_SCALE, QTY_SCALE, CatalogueTable
from yibao.kernel.segments import I64
from yibao.policy import ParameterError, fen_to_yuan, money
from yibao.policy.dates import DateError, parse_day
from yibao.policy.money import AmountError, parse_yuan, round_fen
from yibao.policy.vocab import FeeLineStatus, ItemClass
from yibao.services import clock
from yibao.services.catalogue import compiled_regions
from yibao.services.common import PolicySource, policy_for
from yibao.services.fees import source
from yibao.services.fees.classify import (
    VisitLines,
    amounts,
    catalogue_rows,
    classify_visits,
    needs_person,
    summed,
)
from yibao.services.fees.columns import parse_uploads
from yibao.services.fees.source import CatalogueSource
from yibao.services.person_file import covering_enrolment, enrolment_on
from yibao.store.uow import UnitOfWork

#: The category-B pre-payment share (乙类先行自付比例) of the pooling area.
PREPAY_RATIO = "catalog.category_b_prepay_ratio"
LIST = "feedetail"


@dataclass(frozen=True)
class LineInput:
    """A line as uploaded: the line (its amount computed) and the amount the hospital stated
    (``det_item_fee_sumamt``, fen), if it did."""

    line: FeeLine
    stated_amount: int | None


@dataclass(frozen=True)
class LineResult:
    """A classified line as answered: its price limit (price units, None when none), the
    category-B share on its fee date and the line's share of it (fen, half up; informative:
    settlement applies the share to the visit's summed category B)."""

    line: FeeLine
    price_limit: int | None
    prepay_ratio: Decimal
    prepay: int

    @property
    def self_pay_ratio(self) -> Decimal:
        """selfpay_prop: 1 for a line fully self-paid, the category-B share for class B, else
        0."""
        c = self.line.classes
        assert c is not None
        if c.fully_self_paid == self.line.amount and self.line.amount > 0:
            return Decimal(1)
        return self.prepay_ratio if c.item_class is ItemClass.B else Decimal(0)


@dataclass(frozen=True)
class FeeChange:
    """What an upload or a cancellation did: the visit, the lines it concerns (uploaded, or
    cancelled), the visit's live lines summed after it, and those lines, classified."""

    visit: Visit
    lines: list[LineResult]
    sums: LineSums
    cancelled: list[str]
    live: list[FeeLine] = field(default_factory=list)


def _at(i: int, sn: str | None, name: str) -> str:
    where = f"{LIST}[{i}]"
    return f"{where}.{name}" if sn is None else f"{where} (feedetl_sn {sn}).{name}"


def _text(doc: Mapping[str, Any], i: int, sn: str | None, name: str, max_len: int) -> str:
    value = doc.get(name)
    if value is None or value == "":
        raise InvalidField(_at(i, sn, name), "missing")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidField(_at(i, sn, name), "must be a string")
    text = str(value).strip()
    if len(text) > max_len:
        raise InvalidField(_at(i, sn, name), f"longer than {max_len} characters")
    if bad_in_identifier(text) is None:  # the common case: no field name built
        return text
    return check_identifier(_at(i, sn, name), text)


def line_from_mapping(doc: object, i: int) -> LineInput:
    """Line ``i`` of an upload (national 2204 names: feedetl_sn, med_list_codg, cnt, pric,
    det_item_fee_sumamt, fee_ocur_time, hosp_appr_flag); errors name the line and field."""
    if not isinstance(doc, Mapping):
        raise InvalidField(f"{LIST}[{i}]", "must be an object")
    sn = _text(doc, i, None, "feedetl_sn", 30)
    code = _text(doc, i, sn, "med_list_codg", 50)
    name = "cnt"  # the field being read: its full name (``_at``) is built only for an error
    try:
        quantity = parse_quantity(doc.get(name), name)
        name = "pric"
        price = parse_price(doc.get(name), name)
        name = "fee_ocur_time"
        when = doc.get(name)
        fee_date = parse_day(when, name)
        name = "det_item_fee_sumamt"
        stated = doc.get(name)
        stated_fen = None if stated in (None, "") else parse_yuan(stated, name)
    except (DateError, AmountError, InvalidField) as exc:
        where = _at(i, sn, name) + exc.field.removeprefix(name)
        raise InvalidField(where, exc.reason) from None
    approval = str(doc.get("hosp_appr_flag") or "0").strip()
    if approval not in APPROVAL_FLAGS:
        raise InvalidField(
            _at(i, sn, "hosp_appr_flag"),
            f"{approval!r}: expected 0 (none needed), 1 (approved) or 2 (not approved)",
        )
    if quantity * price > MAX_LINE_YUAN * QTY_SCALE * PRICE_SCALE:
        raise InvalidField(
            _at(i, sn, "pric"),
            f"cnt × pric is above the largest line amount ({MAX_LINE_YUAN} yuan)",
        )
    line = FeeLine(sn, code, quantity, price, 0, fee_date, approval)
    return LineInput(line, stated_fen)


def lines_from_input(docs: object) -> list[LineInput]:
    """The lines of an upload, with their amounts; a stated amount that differs is refused."""
    if not isinstance(docs, list) or not docs:
        raise InvalidField(LIST, "missing: a list of fee detail lines")
    if len(docs) > MAX_LINES_PER_UPLOAD:
        raise InvalidField(LIST, f"more than {MAX_LINES_PER_UPLOAD} lines in one upload")
    parsed = [line_from_mapping(doc, i) for i, doc in enumerate(docs)]
    sums = amounts([p.line.quantity for p in parsed], [p.line.unit_price for p in parsed])
    out = []
    for i, (p, amount) in enumerate(zip(parsed, sums, strict=True)):
        if p.stated_amount is not None and p.stated_amount != amount:
            raise InvalidField(
                _at(i, p.line.feedetl_sn, "det_item_fee_sumamt"),
                f"{fen_to_yuan(p.stated_amount)} is not cnt × pric "
                f"({fen_to_yuan(amount)}, rounded to the fen)",
            )
        out.append(LineInput(p.line.with_amount(amount), p.stated_amount))
    return out


def _by_line(docs: object) -> list[FeeLine]:
    """The lines of an upload read line by line (``lines_from_input``)."""
    return [p.line for p in lines_from_input(docs)]


def _open_visit(uow: UnitOfWork, mdtrt_id: str, institution: str | None) -> Visit:
    """The visit, locked: refused if unknown, another institution's, cancelled or settled."""
    visit = uow.settlements.visit(mdtrt_id, lock=True)
    if visit is None:
        raise NotFound("visit", mdtrt_id)
    if visit.id is None:
        raise NotStored("visit")
    if institution is not None and visit.fixmedins_code != institution:
        raise ForeignRecord(f"visit {mdtrt_id}")
    if visit.status is VisitStatus.CANCELLED:
        raise SettlementRefused(f"visit {mdtrt_id}", "was cancelled")
    setl_id = uow.settlements.settled_on_visit(visit.id)
    if setl_id is not None:
        raise SettlementRefused(
            f"visit {mdtrt_id}", f"settlement {setl_id} is in force; reverse it (2208) first"
        )
    return visit


def _check_dates(visit: Visit, lines: Sequence[FeeLine], today: dt.date) -> None:
    """Refuse the first line dated before the visit, after its discharge or after today."""
    if not lines:
        return
    days = [line.fee_date for line in lines]
    last = today if visit.end_date is None else min(today, visit.end_date)
    if min(days) >= visit.begin_date and max(days) <= last:  # the common case: no field named
        return
    for i, line in enumerate(lines):
        field = _at(i, line.feedetl_sn, "fee_ocur_time")
        day = line.fee_date
        if day < visit.begin_date:
            raise InvalidField(field, f"{day} is before the visit began ({visit.begin_date})")
        if visit.end_date is not None and day > visit.end_date:
            raise InvalidField(field, f"{day} is after the discharge ({visit.end_date})")
        if day > today:
            raise InvalidField(field, f"{day} is after today ({today})")


def _check_serials(lines: Sequence[FeeLine], used: set[str]) -> None:
    """Refuse the first line whose serial the visit has used, or an earlier line of the
    upload."""
    sns = [line.feedetl_sn for line in lines]
    if len(set(sns)) == len(sns) and used.isdisjoint(sns):  # the common case
        return
    seen: set[str] = set()
    for i, sn in enumerate(sns):
        if sn in used:
            raise InvalidField(
                _at(i, sn, "feedetl_sn"), "already used for this visit (a cancelled line's too)"
            )
        if sn in seen:
            raise InvalidField(_at(i, sn, "feedetl_sn"), "given twice in this upload")
        seen.add(sn)


def _person_and_region(uow: UnitOfWork, visit: Visit) -> tuple[Person, str]:
    person = uow.persons.get(visit.person_id)
    if person.id is None:
        raise NotStored("person")
    enrolment = covering_enrolment(person, uow.enrolments.history(person.id), visit.begin_date)
    return person, enrolment.pooling_area


def _results(
    classified: Sequence[FeeLine],
    limits: Sequence[int | None],
    region: str,
    policies: PolicySource,
) -> list[LineResult]:
    policy = policies(region)
    out = []
    #: per fee date: the share, and it as a fraction (numerator, denominator)
    ratios: dict[dt.date, tuple[Decimal, int, int]] = {}
    for line, limit in zip(classified, limits, strict=True):
        found = ratios.get(line.fee_date)
        if found is None:
            ratio = policy.rate(PREPAY_RATIO, line.fee_date)
            found = ratios[line.fee_date] = (ratio, *ratio.as_integer_ratio())
        ratio, num, den = found
        assert line.classes is not None
        b = line.classes.category_b
        # round_fen(b * ratio), in integers: b × num / den, half up (most lines are not B)
        prepay = (2 * b * num + den) // (2 * den) if b > 0 else round_fen(b * ratio) if b else 0
        out.append(LineResult(line, limit, ratio, prepay))
    return out


@dataclass(frozen=True)
class _ToClassify:
    """A visit's live lines (stored ones, in upload order) and new ones, to classify, and its
    person (None: not read; read when a line's item is restricted by sex or age)."""

    visit: Visit
    person: Person | None
    live: list[FeeLine]
    new: list[FeeLine]


#: Per visit: the stored lines as now classified, the new ones classified and their price
#: limits; or why the new lines were refused.
Reclassified = tuple[list[FeeLine], list[FeeLine], list[int | None]] | InvalidField


def _reclassify_many(
    uow: UnitOfWork,
    region: str,
    table: CatalogueTable,
    todo: Sequence[_ToClassify],
    write: bool = True,
) -> list[Reclassified]:
    """Classify the live lines of visits of ``region`` (``table``: its catalogue) together, in
    one call: each visit's stored lines first, then its new ones, whose codes must be valid on
    their dates (else that visit is refused, naming the first line that is not); store the
    stored lines' changes (``write``). A stored line whose code has since left the catalogue
    keeps its classification. The persons not given whose visits have an item restricted by
    sex or age (``needs_person``) are read, in one query."""
    new_rows = _per_visit(table, [t.new for t in todo])
    old_rows = _per_visit(table, [t.live for t in todo])
    out: list[Reclassified | None] = [None] * len(todo)
    going: list[tuple[int, list[int], VisitLines]] = []
    for k, (t, rows, olds) in enumerate(zip(todo, new_rows, old_rows, strict=True)):
        try:
            _check_codes(t.new, rows, region)
        except InvalidField as exc:
            out[k] = exc
            continue
        keep = np.flatnonzero(olds >= 0).tolist()
        together = [t.live[j] for j in keep] + t.new
        all_rows = np.concatenate([olds[keep], rows])
        going.append((k, keep, VisitLines(t.visit, t.person, together, all_rows)))
    going = _with_persons(uow, table, going)
    found = classify_visits(table, [v for _, _, v in going])
    changed = []
    for (k, keep, _), (classes, limits) in zip(going, found, strict=True):
        t = todo[k]
        now = list(t.live)
        for j, c in zip(keep, classes[: len(keep)], strict=True):
            if now[j].classes != c:
                now[j] = now[j].with_classes(c)
                changed.append(now[j])
        fresh = classes[len(keep) :]
        new = [line.with_classes(c) for line, c in zip(t.new, fresh, strict=True)]
        out[k] = (now, new, limits[len(keep) :])
    if write:
        uow.fees.reclassify(changed)
    done = [o for o in out if o is not None]
    assert len(done) == len(todo)
    return done


def _with_persons(
    uow: UnitOfWork, table: CatalogueTable, going: list[tuple[int, list[int], VisitLines]]
) -> list[tuple[int, list[int], VisitLines]]:
    """``going`` with the persons of the visits with an item restricted by sex or age and no
    person given, read in one query (the others are classified without theirs)."""
    wanted = {
        v.visit.person_id for _, _, v in going if v.person is None and needs_person(table, v.rows)
    }
    if not wanted:
        return going
    persons = uow.persons.get_many(wanted)
    out = []
    for k, keep, v in going:
        if v.person is None and v.visit.person_id in wanted:
            person = persons.get(v.visit.person_id)
            if person is None:  # enrolled (a region found) but not stored: not expected
                raise NotFound("person", v.visit.person_id)
            v = VisitLines(v.visit, person, v.lines, v.rows)
        out.append((k, keep, v))
    return out


def _per_visit(table: CatalogueTable, lines: Sequence[Sequence[FeeLine]]) -> list[I64]:
    """The catalogue rows of each visit's ``lines``, looked up in one call."""
    rows = catalogue_rows(table, [line for visit in lines for line in visit])
    return np.split(rows, np.cumsum([len(visit) for visit in lines])[:-1]) if lines else []


def _check_codes(new: Sequence[FeeLine], rows: I64, region: str) -> None:
    """Refuse the first new line whose code the catalogue does not list, or not on its date."""
    bad = np.flatnonzero(rows < 0)
    if not len(bad):
        return
    i = int(bad[0])
    line = new[i]
    if rows[i] == -2:
        raise InvalidField(
            _at(i, line.feedetl_sn, "med_list_codg"),
            f"{line.code} is not in the catalogue of area {region}",
        )
    raise InvalidField(
        _at(i, line.feedetl_sn, "med_list_codg"),
        f"{line.code} is not valid on {line.fee_date} in the catalogue of area {region}",
    )


def _reclassify(
    uow: UnitOfWork,
    visit: Visit,
    person: Person,
    region: str,
    live: list[FeeLine],
    new: list[FeeLine],
    catalogues: CatalogueSource,
) -> tuple[list[FeeLine], list[FeeLine], list[int | None]]:
    """``_reclassify_many`` of one visit; its refusal raised."""
    (found,) = _reclassify_many(
        uow, region, catalogues(uow, region), [_ToClassify(visit, person, live, new)]
    )
    if isinstance(found, InvalidField):
        raise found
    return found


@dataclass(frozen=True)
class Upload:
    """An upload of fee detail lines (2204): the visit, the lines as sent (national names),
    the institution that must own the visit (None: staff), and diagnoses and procedures that
    replace the visit's."""

    mdtrt_id: str
    docs: object
    institution: str | None = None
    diagnoses: Sequence[Diagnosis] = ()
    procedures: Sequence[Procedure] = ()


Uploaded = FeeChange | RecordError | ParameterError


def upload_lines(
    uow: UnitOfWork,
    mdtrt_id: str,
    docs: object,
    *,
    institution: str | None = None,
    catalogues: CatalogueSource | None = None,
    policies: PolicySource = policy_for,
    diagnoses: Sequence[Diagnosis] = (),
    procedures: Sequence[Procedure] = (),
) -> FeeChange:
    """Upload fee detail lines for a visit (2204): all of them stored, classified, or none.
    Refused: an unknown visit, another institution's (``institution``), a cancelled or settled
    one; a line with an unknown code, a code not valid on its fee date, a quantity not above
    zero, an absurd price or amount, a fee date outside the visit or after today, a serial
    (feedetl_sn) the visit has used. Diagnoses and procedures given (a FHIR Claim's) replace
    the visit's, in the same transaction."""
    upload = Upload(mdtrt_id, docs, institution, diagnoses, procedures)
    with uow:
        found = upload_many(uow, [upload], catalogues=catalogues, policies=policies)[0]
        if not isinstance(found, FeeChange):
            raise found
        uow.commit()
    return found


def preview_upload(
    uow: UnitOfWork,
    upload: Upload,
    *,
    catalogues: CatalogueSource | None = None,
    policies: PolicySource = policy_for,
) -> FeeChange:
    """An upload (2204) checked and classified with the visit's live lines as
    ``upload_lines`` does it (the same refusals), nothing written or locked: a bill previewed
    (2206 with lines). Its ``sums`` and ``live``: the visit's live lines with the upload's."""
    with uow:
        found = upload_many(uow, [upload], catalogues=catalogues, policies=policies, write=False)
    if not isinstance(found[0], FeeChange):
        raise found[0]
    return found[0]


def upload_many(
    uow: UnitOfWork,
    uploads: Sequence[Upload],
    *,
    catalogues: CatalogueSource | None = None,
    policies: PolicySource = policy_for,
    visits: Mapping[str, Visit] | None = None,
    write: bool = True,
) -> list[Uploaded]:
    """Upload many visits' lines inside a unit of work the caller opened and commits (the
    API's batches): one locked read of the visits, then one read of their settlements, their
    lines and their persons' enrolments (and the catalogue's stamps; on PostgreSQL two
    statements, the lines and the rest, elsewhere one a table), one of the persons whose lines
    have items restricted by sex or age (none without), one insert of every upload's lines.
    Each upload gets its change or its refusal, as ``upload_lines`` would give it alone; a
    refused one stores nothing and does not stop the others. Uploads to one visit are taken in
    turn, each seeing the lines of those before it. A caller that has read the uploads' visits
    already, locked (``SettlementRepository.visits(..., lock=True)`` in this transaction),
    gives them as ``visits`` ({mdtrt_id: visit} of those found), and they are not read
    again. ``write`` False: nothing is written or locked (``preview_upload``)."""
    out: list[Uploaded | None] = [None] * len(uploads)
    parsed: dict[int, list[FeeLine]] = {}
    for i, found in enumerate(parse_uploads([u.docs for u in uploads], _by_line)):
        if isinstance(found, list):
            parsed[i] = found
        else:
            out[i] = found
    todo, today = list(parsed), clock.today()
    while todo:
        now: list[int] = []
        later: list[int] = []
        visits_taken: set[str] = set()
        for i in todo:
            (later if uploads[i].mdtrt_id in visits_taken else now).append(i)
            visits_taken.add(uploads[i].mdtrt_id)
        _upload_round(
            uow,
            uploads,
            parsed,
            now,
            out,
            today,
            source.source(catalogues),
            policies,
            visits,
            write,
        )
        todo = later
    done = [o for o in out if o is not None]
    assert len(done) == len(uploads)
    return done


def _upload_round(
    uow: UnitOfWork,
    uploads: Sequence[Upload],
    parsed: dict[int, list[FeeLine]],
    now: list[int],
    out: list[Uploaded | None],
    today: dt.date,
    catalogues: CatalogueSource,
    policies: PolicySource,
    locked: Mapping[str, Visit] | None,
    write: bool,
) -> None:
    """Upload the lines of ``now`` (distinct visits); ``locked``: their visits if read
    already; ``write`` False: classify them only."""
    visits = (
        locked
        if locked is not None
        else uow.settlements.visits((uploads[i].mdtrt_id for i in now), lock=write)
    )
    # after the lock, one read (two statements on PostgreSQL, begun after the lock was granted:
    # they see what the transactions it waited for committed): the visits' settlements, their
    # lines, their persons' enrolments, the stamps of the catalogues compiled; the persons are
    # read for the visits with items restricted by sex or age only (_reclassify_many), or to
    # name one not enrolled
    in_round = [v for v in (visits.get(uploads[i].mdtrt_id) for i in now) if v is not None and v.id]
    read = uow.fees.for_upload(
        (v.id or 0 for v in in_round), (v.person_id for v in in_round), compiled_regions()
    )
    settled, stored, histories = read.settled, read.lines, read.histories
    open_: list[tuple[int, Visit]] = []
    for i in now:
        upload = uploads[i]
        try:
            visit = _checked_open(visits.get(upload.mdtrt_id), upload, settled)
            _check_dates(visit, parsed[i], today)
        except (RecordError, ParameterError) as exc:
            out[i] = exc
            continue
        open_.append((i, visit))
    regions: dict[str, list[tuple[int, _ToClassify]]] = {}
    for i, visit in open_:
        new = parsed[i]
        assert visit.id is not None
        try:
            mine = stored.get(visit.id, [])
            _check_serials(new, {line.feedetl_sn for line in mine})
            live = [line for line in mine if line.status is FeeLineStatus.LIVE]
            _check_size(live, new)
            region = _region(uow, visit, histories.get(visit.person_id, []))
        except (RecordError, ParameterError) as exc:
            out[i] = exc
            continue
        regions.setdefault(region, []).append((i, _ToClassify(visit, None, live, new)))
    writes: list[tuple[int, Sequence[FeeLine]]] = []
    for region, todo in regions.items():
        try:
            table = catalogues(uow, region)
        except (RecordError, ParameterError) as exc:
            for i, _ in todo:
                out[i] = exc
            continue
        found = _reclassify_many(uow, region, table, [t for _, t in todo], write)
        for (i, t), done in zip(todo, found, strict=True):
            if isinstance(done, InvalidField):
                out[i] = done
                continue
            live, classified, limits = done
            upload, visit_id = uploads[i], t.visit.id
            assert visit_id is not None
            if write:
                writes.append((visit_id, classified))
                if upload.diagnoses:
                    uow.fees.set_diagnoses(visit_id, upload.diagnoses)
                if upload.procedures:
                    uow.fees.set_procedures(visit_id, upload.procedures)
            after = live + classified
            results = _results(classified, limits, region, policies)
            out[i] = FeeChange(t.visit, results, summed(after), [], after)
    uow.fees.add_many(writes)


def _region(uow: UnitOfWork, visit: Visit, history: Sequence[Enrolment]) -> str:
    """The pooling area of the enrolment covering the visit's first day; refused (naming the
    person, read for it) when none does."""
    enrolment = enrolment_on(history, visit.begin_date)
    if enrolment is not None:
        return enrolment.pooling_area
    person = uow.persons.get_many([visit.person_id]).get(visit.person_id)
    if person is None:
        raise NotFound("person", visit.person_id)
    return covering_enrolment(person, history, visit.begin_date).pooling_area


def _checked_open(visit: Visit | None, upload: Upload, settled: Mapping[int, str]) -> Visit:
    """``_open_visit``'s checks on a visit read (locked) with others."""
    mdtrt_id = upload.mdtrt_id
    if visit is None:
        raise NotFound("visit", mdtrt_id)
    if visit.id is None:
        raise NotStored("visit")
    if upload.institution is not None and visit.fixmedins_code != upload.institution:
        raise ForeignRecord(f"visit {mdtrt_id}")
    if visit.status is VisitStatus.CANCELLED:
        raise SettlementRefused(f"visit {mdtrt_id}", "was cancelled")
    setl_id = settled.get(visit.id)
    if setl_id is not None:
        raise SettlementRefused(
            f"visit {mdtrt_id}", f"settlement {setl_id} is in force; reverse it (2208) first"
        )
    return visit


def _check_size(live: Sequence[FeeLine], new: Sequence[FeeLine]) -> None:
    if len(live) + len(new) > MAX_LINES_PER_VISIT:
        raise InvalidField(LIST, f"the visit would hold more than {MAX_LINES_PER_VISIT} lines")
    total = sum(line.amount for line in live) + sum(line.amount for line in new)
    try:
        money.check_fen(total, "det_item_fee_sumamt")
    except money.AmountError as exc:
        raise InvalidField(
            LIST, f"the visit's lines would sum to more than allowed: {exc.reason}"
        ) from None


def cancel_lines(
    uow: UnitOfWork,
    mdtrt_id: str,
    serials: Sequence[str] | None,
    *,
    institution: str | None = None,
    catalogues: CatalogueSource | None = None,
) -> FeeChange:
    """Cancel fee detail lines of a visit (2205): those of ``serials`` (each must be a live
    line of the visit), or all of them (None). Refused once the visit is settled; the lines
    left are classified again."""
    with uow:
        visit = _open_visit(uow, mdtrt_id, institution)
        assert visit.id is not None
        live = uow.fees.lines(visit.id, live_only=True)
        if serials is not None:
            live_sns = {line.feedetl_sn for line in live}
            for i, sn in enumerate(serials):
                if sn not in live_sns:
                    raise InvalidField(
                        f"feedetl_sn[{i}]",
                        f"{sn} is not a live fee detail line of visit {mdtrt_id}",
                    )
            gone = set(serials)
        else:
            gone = {line.feedetl_sn for line in live}
        uow.fees.cancel(visit.id, None if serials is None else gone)
        left = [line for line in live if line.feedetl_sn not in gone]
        if left:
            person, region = _person_and_region(uow, visit)
            left, _, _ = _reclassify(
                uow, visit, person, region, left, [], source.source(catalogues)
            )
        sums = summed(left)
        uow.commit()
    cancelled = [line.feedetl_sn for line in live if line.feedetl_sn in gone]
    return FeeChange(visit, [], sums, cancelled, left)


def visit_lines(
    uow: UnitOfWork, mdtrt_id: str, *, institution: str | None = None
) -> tuple[Visit, list[FeeLine]]:
    """A visit's lines, cancelled ones included, in upload order (5204)."""
    with uow:
        visit = uow.settlements.visit(mdtrt_id)
        if visit is None:
            raise NotFound("visit", mdtrt_id)
        if institution is not None and visit.fixmedins_code != institution:
            raise ForeignRecord(f"visit {mdtrt_id}")
        assert visit.id is not None
        return visit, uow.fees.lines(visit.id)
