"""A calculator scenario's bills: claims given as fee detail lines (费用明细), classified against
the scenario's inline catalogue or the region's shipped one (docs/calculator.md).

A claim with ``lines`` gets its total, fully self-paid, over-limit and category-B amounts from
its classified lines (``kernel.classify``); each settlement then lists its lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from yibao.calc.scenario import ScenarioError, date
from yibao.kernel.catalogue import compile_catalogue, shipped_table
from yibao.kernel.classify import (
    MAX_LINE_YUAN,
    NO_LIMIT,
    PRICE_SCALE,
    QTY_SCALE,
    REASONS,
    SEX_ANY,
    CatalogueTable,
    LineClasses,
    Lines,
    VisitSums,
    classify_lines,
    line_amounts,
    line_too_large,
    visit_sums,
)
from yibao.kernel.tables import epoch_days
from yibao.policy import fen_to_yuan
from yibao.policy.catalogue import (
    MAX_PRICE_YUAN,
    MAX_QUANTITY,
    CatalogueError,
    kind_of_code,
    parse_rows,
    to_units,
)
from yibao.policy.vocab import LINE_AMOUNTS, LINE_REASON_TEXTS

#: The claim amounts a claim with lines must not give itself.
DIGESTED = ("total", "fully_self_paid", "over_limit", "category_b")
#: Sex in a scenario's person: M / F (GB/T 2261.1 codes 1, 2).
SEXES = {"M": 1, "F": 2}
#: How long before the claim's date a line's date may be (an admission's first day).
MAX_LINE_AGE = dt.timedelta(days=366)


@dataclass(frozen=True)
class Bills:
    """The scenario's lines, classified; ``claim`` is each line's claim index."""

    claim: list[int]
    codes: list[str]
    classes: LineClasses
    sums: VisitSums


def scenario_catalogue(doc: dict[str, Any], region: str) -> CatalogueTable:
    """The scenario's ``catalogue`` (a list of items with the catalogue file's columns; name
    and kind optional), else the region's shipped catalogue."""
    given = doc.get("catalogue")
    if given is None:
        try:
            return shipped_table(region)
        except CatalogueError as exc:
            raise ScenarioError("catalogue", exc.reason) from exc
    if not isinstance(given, list) or not given:
        raise ScenarioError("catalogue", "must be a non-empty list of items")
    rows: list[tuple[int, dict[str, str]]] = []
    for k, item in enumerate(given):
        if not isinstance(item, dict):
            raise ScenarioError(f"catalogue[{k}]", "must be a mapping")
        row = {str(key): "" if v is None else str(v) for key, v in item.items()}
        code = row.get("code", "")
        row.setdefault("name", code)
        row.setdefault("kind", kind_of_code(code).value if code else "")
        if isinstance(item.get("price_limit"), bool):
            raise ScenarioError(f"catalogue[{k}].price_limit", "must be a number (yuan)")
        rows.append((k, row))
    try:
        return compile_catalogue(parse_rows(rows, "<scenario>"))
    except CatalogueError as exc:
        field = exc.field if exc.line is not None else exc.path
        where = f"catalogue[{exc.line}].{field}" if exc.line is not None else "catalogue"
        raise ScenarioError(where, exc.reason) from exc


def _units(value: Any, field: str, scale: int, bound: Any, unit: str) -> int:
    if value is None:
        raise ScenarioError(field, f"missing ({unit})")
    try:
        return to_units(value, scale, bound, unit)
    except ValueError as exc:
        raise ScenarioError(field, str(exc)) from exc


def person_traits(person: dict[str, Any]) -> tuple[int | None, dt.date | None]:
    """The person's sex and birth date, for restricted items (both optional)."""
    sex = person.get("sex")
    if sex is not None and str(sex).upper() not in SEXES:
        raise ScenarioError("person.sex", f"unknown sex {sex!r}; expected M or F")
    birth = person.get("birth_date")
    born = date(birth, "person.birth_date") if birth is not None else None
    return (SEXES[str(sex).upper()] if sex is not None else None), born


def age_on(born: dt.date, day: dt.date) -> int:
    """Whole years of age on ``day`` (周岁)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def classify_bills(
    table: CatalogueTable,
    claims: list[dict[str, Any]],
    dates: list[dt.date],
    levels: list[int],
    sex: int | None,
    born: dt.date | None,
) -> Bills | None:
    """Classify the lines of the claims that have ``lines`` (None when none has). A claim
    without lines sums to zero here. Errors name ``claims[i].lines[j].<field>``."""
    claim: list[int] = []
    codes: list[str] = []
    days: list[int] = []
    quantity: list[int] = []
    price: list[int] = []
    approved: list[bool] = []
    ages: list[int] = []
    fields: list[str] = []
    for i, c in enumerate(claims):
        given = c.get("lines")
        if given is None:
            continue
        f = f"claims[{i}]"
        both = [k for k in DIGESTED if c.get(k) is not None]
        if both:
            raise ScenarioError(
                f"{f}.{both[0]}", "a claim gives either lines or its amounts, not both"
            )
        if not isinstance(given, list) or not given:
            raise ScenarioError(f"{f}.lines", "must be a non-empty list of lines")
        for j, line in enumerate(given):
            g = f"{f}.lines[{j}]"
            if not isinstance(line, dict):
                raise ScenarioError(g, "must be a mapping")
            code = line.get("code")
            if not isinstance(code, str) or not code:
                raise ScenarioError(f"{g}.code", "missing (a national code)")
            q = _units(line.get("quantity"), f"{g}.quantity", QTY_SCALE, MAX_QUANTITY, "units")
            if q == 0:
                raise ScenarioError(f"{g}.quantity", "must be above 0")
            p = _units(
                line.get("unit_price"), f"{g}.unit_price", PRICE_SCALE, MAX_PRICE_YUAN, "yuan"
            )
            if line_too_large(np.array([q]), np.array([p]))[0]:
                raise ScenarioError(
                    g, f"quantity × unit_price is above {MAX_LINE_YUAN} yuan for one line"
                )
            on = date(line["date"], f"{g}.date") if line.get("date") is not None else dates[i]
            if on > dates[i] or on < dates[i] - MAX_LINE_AGE:
                raise ScenarioError(
                    f"{g}.date", f"{on} is after the claim's date or more than a year before it"
                )
            ok = line.get("approved", False)
            if not isinstance(ok, bool):
                raise ScenarioError(f"{g}.approved", "must be true or false")
            claim.append(i)
            codes.append(code)
            days.append(epoch_days(on))
            quantity.append(q)
            price.append(p)
            approved.append(ok)
            ages.append(age_on(born, on) if born is not None else 0)  # checked below
            fields.append(g)
    if not claim:
        return None
    ids = table.code_ids(codes)
    day = np.array(days, dtype=np.int64)
    rows = table.rows(ids, day)
    for k in np.flatnonzero(rows < 0):
        why = "unknown code" if ids[k] < 0 else "not in the catalogue on that day"
        raise ScenarioError(f"{fields[k]}.code", f"{codes[k]!r}: {why}")
    _check_traits(table, rows, sex, born, fields)
    visit = np.array(claim, dtype=np.int64)
    lines = Lines(
        visit=visit,
        row=rows,
        day=day,
        quantity=np.array(quantity, dtype=np.int64),
        unit_price=np.array(price, dtype=np.int64),
        sex=np.full(len(claim), sex or SEX_ANY, dtype=np.int64),
        age=np.array(ages, dtype=np.int64),
        level=np.array([levels[i] for i in claim], dtype=np.int64),
        approved=np.array(approved, dtype=np.bool_),
    )
    classes = classify_lines(table, lines)
    assert bool((classes.amount == line_amounts(lines.quantity, lines.unit_price)).all())
    return Bills(claim, codes, classes, visit_sums(visit, classes, len(claims)))


def _check_traits(
    table: CatalogueTable, rows: Any, sex: int | None, born: dt.date | None, fields: list[str]
) -> None:
    """A line of an item restricted by sex or age needs the person's sex or birth date."""
    if sex is None:
        for k in np.flatnonzero(table.sex[rows] != SEX_ANY):
            raise ScenarioError(
                "person.sex", f"needed by {fields[k]} (the item is restricted by sex)"
            )
    if born is None:
        by_age = (table.min_age[rows] > 0) | (table.max_age[rows] != NO_LIMIT)
        for k in np.flatnonzero(by_age):
            raise ScenarioError(
                "person.birth_date", f"needed by {fields[k]} (the item is restricted by age)"
            )


def lines_out(bills: Bills, claim: int) -> list[dict[str, Any]]:
    """The classified lines of one claim, as the calculator prints them (yuan strings)."""
    out = []
    c = bills.classes
    for k in (k for k, i in enumerate(bills.claim) if i == claim):
        reason = REASONS[int(c.reason[k])]
        row: dict[str, Any] = {"code": bills.codes[k]}
        row.update({f: fen_to_yuan(int(getattr(c, f)[k])) for f in LINE_AMOUNTS})
        row["reason"] = reason.value
        row["reason_text"] = LINE_REASON_TEXTS[reason]
        out.append(row)
    return out
