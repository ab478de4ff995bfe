"""The lines of many uploads (a batch's 2204s) read column by column: each field of every line
of every upload taken at once and checked as a column (its types, its text, its numbers in
integers), the amounts in one NumPy call. A column accepts only the common case, whose reading
is the per-line reading's (``lines.lines_from_input``) to the unit: plain decimal text, ISO
dates, the approval flags as sent. An upload with anything else (a refusal, or an unusual but
valid value: a number instead of text, spaces, a stated amount with trailing zeros) is read line
by line instead, so every refusal keeps its message, naming the line and field."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import itemgetter, methodcaller
from typing import Any

import numpy as np

from yibao.domain.errors import RecordError
from yibao.domain.fees import MAX_LINES_PER_UPLOAD, FeeLine, fee_line
from yibao.kernel.classify import PRICE_SCALE, QTY_SCALE, line_amounts, line_too_large
from yibao.policy import ParameterError
from yibao.policy.catalogue import MAX_PRICE_YUAN, MAX_QUANTITY
from yibao.policy.dates import day_of
from yibao.policy.money import MAX_YUAN
from yibao.policy.vocab import FeeLineStatus

#: Per upload: its lines with their amounts, or why it was refused.
Parsed = list[FeeLine] | RecordError | ParameterError

_REQUIRED = itemgetter("feedetl_sn", "med_list_codg", "cnt", "pric", "fee_ocur_time")
#: Plain decimal text, newline-joined: the whole column checked by one match.
_QUANTITIES = re.compile(r"(?:[0-9]+(?:\.[0-9]{1,4})?\n)*[0-9]+(?:\.[0-9]{1,4})?")
_PRICES = re.compile(r"(?:[0-9]+(?:\.[0-9]{1,6})?\n)*[0-9]+(?:\.[0-9]{1,6})?")
_YUAN = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")
#: A decimal's whole and fraction digits: (whole, ".", fraction) or (whole, "", "").
_PARTS = methodcaller("partition", ".")
_MAX_QUANTITY_UNITS = int(MAX_QUANTITY * QTY_SCALE)
_MAX_PRICE_UNITS = int(MAX_PRICE_YUAN * PRICE_SCALE)
_MAX_FEN = int(MAX_YUAN * 100)
#: hosp_appr_flag as sent -> the flag (absent or empty: 0).
_APPROVALS = {None: "0", "": "0", "0": "0", "1": "1", "2": "2"}


def parse_uploads(
    docs_of: Sequence[object], by_line: Callable[[object], list[FeeLine]]
) -> list[Parsed]:
    """Each upload's lines (``docs_of``: each upload's ``feedetail`` as sent) with their
    amounts, or its refusal: the whole batch as columns, else each upload as columns, else
    (an upload the columns do not accept) ``by_line(docs)``, whose refusal is kept."""
    whole = _columns(docs_of)
    if whole is not None:
        return list(whole)
    out: list[Parsed] = []
    for docs in docs_of:
        alone = _columns([docs])
        if alone is not None:
            out.append(alone[0])
            continue
        try:
            out.append(by_line(docs))
        except (RecordError, ParameterError) as exc:
            out.append(exc)
    return out


def _columns(docs_of: Sequence[object]) -> list[list[FeeLine]] | None:
    """The uploads' lines, or None when any upload holds anything but the common case."""
    if not docs_of:
        return []
    sizes: list[int] = []
    flat: list[Any] = []
    for docs in docs_of:
        if type(docs) is not list or not docs or len(docs) > MAX_LINES_PER_UPLOAD:
            return None
        sizes.append(len(docs))
        flat.extend(docs)
    if set(map(type, flat)) != {dict}:
        return None
    try:
        sns, codes, cnts, prices, whens = zip(*map(_REQUIRED, flat), strict=True)
        approvals = [_APPROVALS[d.get("hosp_appr_flag")] for d in flat]
    except (KeyError, TypeError):  # a field missing, an unhashable flag
        return None
    stated = [d.get("det_item_fee_sumamt") for d in flat]
    if set(map(type, (*sns, *codes, *cnts, *prices, *whens))) != {str}:
        return None
    if not all(sns) or not all(codes):
        return None
    sns = tuple(map(str.strip, sns))
    codes = tuple(map(str.strip, codes))
    if max(map(len, sns)) > 30 or max(map(len, codes)) > 50:
        return None
    if not ("".join(sns).isprintable() and "".join(codes).isprintable()):
        return None
    quantity = _units(cnts, _QUANTITIES, 4, _MAX_QUANTITY_UNITS)
    price = _units(prices, _PRICES, 6, _MAX_PRICE_UNITS)
    days = _days(whens)
    if quantity is None or price is None or days is None or min(quantity) <= 0:
        return None
    q = np.array(quantity, dtype=np.int64)
    p = np.array(price, dtype=np.int64)
    if bool(line_too_large(q, p).any()):
        return None
    amounts = line_amounts(q, p).tolist()
    if not _stated_agree(stated, amounts):
        return None
    live, none = repeat(FeeLineStatus.LIVE), repeat(None)
    lines = list(
        map(fee_line, sns, codes, quantity, price, amounts, days, approvals, live, none, none)
    )
    out, at = [], 0
    for n in sizes:
        out.append(lines[at : at + n])
        at += n
    return out


def _units(
    texts: Sequence[str], pattern: re.Pattern[str], places: int, most: int
) -> list[int] | None:
    """Plain decimals of at most ``places`` decimals in integer units of 10^-places, None
    unless every one is such a decimal not above ``most`` units."""
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1 or not pattern.fullmatch(joined):
        return None
    scale = 10**places
    if "." not in joined:  # whole numbers: converted in C
        units = [scale * u for u in map(int, texts)]
        return units if max(units) <= most else None
    units = [int(whole + frac.ljust(places, "0")) for whole, _, frac in map(_PARTS, texts)]
    return units if max(units) <= most else None


def _days(texts: Sequence[str]) -> list[dt.date] | None:
    """``fee_ocur_time``'s days (``policy.dates.day_of``: an ISO date or date-time), None if
    any is not (the row path then names the line)."""
    try:
        known = {t: day_of(t) for t in set(texts)}
    except (TypeError, ValueError):
        return None
    return list(map(known.__getitem__, texts))


def _stated_agree(stated: Sequence[object], amounts: Sequence[int]) -> bool:
    """Every stated amount (``det_item_fee_sumamt``) absent, or plain yuan equal to the
    line's amount."""
    if not any(stated):  # none stated (None or empty)
        return all(given is None or given == "" for given in stated)
    for given, amount in zip(stated, amounts, strict=True):
        if given is None or given == "":
            continue
        if type(given) is not str or not _YUAN.fullmatch(given):
            return False
        whole, _, frac = given.partition(".")
        fen = int(whole) * 100 + (int(frac.ljust(2, "0")) if frac else 0)
        if fen != amount or fen > _MAX_FEN:
            return False
    return True
