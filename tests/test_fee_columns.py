"""The lines of a batch's uploads read column by column (``services.fees.columns``) are the lines
read line by line (``lines_from_input``), and every upload the columns do not accept keeps the
line-by-line refusal, its message naming the line and field (hypothesis, on generated uploads
with good, unusual and bad values)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.domain.errors import RecordError
from yibao.domain.fees import FeeLine
from yibao.policy import ParameterError
from yibao.services.fees.columns import _columns, parse_uploads
from yibao.services.fees.lines import lines_from_input


def by_line(docs: object) -> list[FeeLine]:
    return [p.line for p in lines_from_input(docs)]


def reading(docs: object) -> object:
    """The line-by-line reading of one upload: its lines, or its refusal as (type, message)."""
    try:
        return by_line(docs)
    except (RecordError, ParameterError) as exc:
        return (type(exc), str(exc))


def as_compared(found: object) -> object:
    return found if isinstance(found, list) else (type(found), str(found))


def some(good: st.SearchStrategy[Any], *bad: Any) -> tuple[st.SearchStrategy[Any], ...]:
    """A field's (good values, good or unusual or bad values)."""
    return good, st.one_of(good, good, good, st.sampled_from(bad))


def decimals(most: int, places: int) -> st.SearchStrategy[str]:
    """Plain decimal text up to ``most`` with up to ``places`` decimals."""
    return st.integers(1, most).map(str) | st.builds(
        lambda w, f: f"{w}.{f}",
        st.integers(0, most),
        st.text("0123456789", min_size=1, max_size=places),
    )


serials = some(
    st.text("0123456789AB", min_size=1, max_size=6),
    None, "", " ", " 7 ", 7, True, "a\u200bb", "x" * 31, "\t1", "1\n",
)  # fmt: skip
codes = some(
    st.sampled_from(["XA01", "ZB02", "C0001", "T9"]),
    None, "", 5, "Y" * 51, " XA01 ", "X\x00", ["XA01"],
)  # fmt: skip
quantities = some(
    decimals(99, 4),
    None, "", "0", "0.0000", "-1", "1.00001", 2, 1.5, "1e3", " 2", "1\n2", "1,5", "2000000",
    "1000000", "1000000.0001", True, "١", "1.00000", "99999", "0",
)  # fmt: skip
prices = some(
    decimals(9999, 6),
    None, "", "-0.5", "0.0000001", 3, 2.25, "1000000", "1000000.000001", "abc", "9" * 30,
    "1.0000000", "0", "999999.999999",
)  # fmt: skip
times = some(
    st.sampled_from(["2025-05-01", "2025-05-02 10:11:12", "2025-04-30T08:00:00"]),
    None, "", "2025-13-01", "20250501", "2025/05/01", 20250501, "2025-5-1",
)  # fmt: skip
approvals = some(st.sampled_from([None, "", "0", "1", "2"]), " 1", 1, 0, "3", [], "１")
stated = some(st.just(None), "", "0.00", "1.500", 12, "-1", "x", "100000001.00", " 1.00")


@st.composite
def line(draw: st.DrawFn, clean: bool) -> object:
    """A line: of good values only (``clean``), else any."""
    k = 0 if clean else 1
    doc: dict[str, Any] = {
        "feedetl_sn": draw(serials[k]),
        "med_list_codg": draw(codes[k]),
        "cnt": draw(quantities[k]),
        "pric": draw(prices[k]),
        "fee_ocur_time": draw(times[k]),
    }
    if draw(st.booleans()):
        doc["hosp_appr_flag"] = draw(approvals[k])
    if draw(st.booleans()):
        doc["det_item_fee_sumamt"] = draw(stated[k])
    if clean:
        return doc
    gone = draw(st.sampled_from([None, None, None, None, None, "cnt", "feedetl_sn"]))
    if gone is not None:
        del doc[gone]
    return draw(st.sampled_from([doc] * 12 + ["not a line", None, []]))


@st.composite
def matching(draw: st.DrawFn, clean: bool) -> object:
    """A line whose stated amount, when given, is its line-by-line amount (so the columns may
    accept it)."""
    doc = draw(line(clean))
    if isinstance(doc, dict) and draw(st.booleans()):
        try:
            (read,) = by_line([{**doc, "det_item_fee_sumamt": None}])
        except (RecordError, ParameterError):
            return doc
        doc["det_item_fee_sumamt"] = f"{read.amount // 100}.{read.amount % 100:02d}"
    return doc


uploads = st.one_of(
    st.lists(matching(True), min_size=1, max_size=6),
    st.lists(matching(False), min_size=1, max_size=6),
    st.sampled_from([[], None, "lines", {"cnt": "1"}]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(uploads, min_size=1, max_size=5))
def test_columns_read_as_lines_do(batch: list[object]) -> None:
    found = parse_uploads(batch, by_line)
    assert [as_compared(f) for f in found] == [reading(docs) for docs in batch]


def plain(k: int) -> dict[str, Any]:
    return {
        "feedetl_sn": f"{k}",
        "med_list_codg": "XA01",
        "cnt": "2" if k % 2 else "1.5",
        "pric": "12.345678" if k % 3 else "7",
        "fee_ocur_time": "2025-05-01 08:00:00",
        "det_item_fee_sumamt": "24.69" if k % 6 == 1 else None,
        "hosp_appr_flag": "1" if k % 4 else None,
    }


def test_the_columns_take_the_common_case() -> None:
    """Plain uploads are read as columns (not by the line-by-line fallback), to the same
    lines; one refused upload leaves the others' read as columns."""
    batch: list[object] = [[plain(k) for k in range(n)] for n in (1, 5, 20)]
    whole = _columns(batch)
    assert whole is not None
    assert whole == [by_line(docs) for docs in batch]
    bad = [*batch, [{**plain(0), "cnt": "0"}]]
    assert _columns(bad) is None
    found = parse_uploads(bad, by_line)
    assert found[:3] == whole
    assert isinstance(found[3], RecordError)
    assert str(found[3]) == "feedetail[0] (feedetl_sn 0).cnt: must be more than 0 (got 0)"
