"""The synthetic area's fee detail lines, diagnoses, procedures and discharge status (issue 12):
claims agree with their lines to the fen, every code is in the shipped catalogue and valid on its
day, and the mixes are within tolerance of their targets on a fixed seed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.kernel.catalogue import shipped_table
from yibao.kernel.classify import PRICE_SCALE, Lines, classify_lines, visit_sums
from yibao.policy.catalogue import CatalogueItem, shipped_items
from yibao.policy.vocab import ItemClass, ItemKind
from yibao.synth import SynthConfig, generate
from yibao.synth.catalog import DELIVERY_OUTCOME
from yibao.synth.line_mix import CONSUMABLE, DRUG, SERVICE
from yibao.synth.lines import CatalogueUnfit, ItemPool, build_pool, pick
from yibao.synth.writer import item_pool

YEAR = 2025
EPOCH = dt.date(1970, 1, 1)


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lines")
    generate(out, SynthConfig("360100", 6_000, YEAR, seed=21, chunk_size=3_000))
    return out


@pytest.fixture(scope="module")
def parts(area: Path) -> tuple[pa.Table, pa.Table, pa.Table]:
    return (
        pq.read_table(area / "persons"),
        pq.read_table(area / "claims"),
        pq.read_table(area / "lines"),
    )


def _np(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False))


def _days(column: pa.ChunkedArray) -> np.ndarray:
    return _np(column.cast(pa.int32())).astype(np.int64)


def test_every_claim_has_lines_numbered_from_one(parts: tuple[pa.Table, ...]) -> None:
    _, claims, lines = parts
    claim_ids = _np(claims["claim_id"])
    line_claims = _np(lines["claim_id"])
    assert np.array_equal(np.unique(line_claims), np.sort(claim_ids))
    # grouped by claim, feedetl_sn 1..k within each
    assert (np.diff(line_claims) >= 0).all()
    starts = np.searchsorted(line_claims, line_claims)
    assert np.array_equal(_np(lines["feedetl_sn"]), np.arange(len(line_claims)) - starts + 1)


def test_claims_are_the_sums_of_their_lines_to_the_fen(parts: tuple[pa.Table, ...]) -> None:
    """Classify the written lines again with the shipped catalogue: each claim's four amounts
    are its lines' sums."""
    persons, claims, lines = parts
    table = shipped_table("360100")
    claim_ids = _np(claims["claim_id"])
    at = np.searchsorted(claim_ids, _np(lines["claim_id"]))
    psn = _np(persons["psn_no"])
    who = np.searchsorted(psn, _np(claims["psn_no"]))[at]
    sex = np.where(_np(persons["sex"]) == "M", 1, 2)[who]
    age = YEAR - _np(pc.year(persons["birth_date"]))[who]
    day = _days(lines["fee_date"])
    rows = table.rows(table.code_ids(_np(lines["code"])), day)
    assert (rows >= 0).all()
    classes = classify_lines(
        table,
        Lines(
            visit=at.astype(np.int64),
            row=rows,
            day=day,
            quantity=_np(lines["quantity"]),
            unit_price=_np(lines["unit_price"]),
            sex=sex.astype(np.int64),
            age=age.astype(np.int64),
            level=_np(claims["level"]).astype(np.int64)[at],
            approved=_np(lines["approved"]),
        ),
    )
    assert np.array_equal(classes.amount, _np(lines["amount"]))
    sums = visit_sums(at.astype(np.int64), classes, claims.num_rows)
    for name in ("total", "fully_self_paid", "over_limit", "category_b"):
        assert np.array_equal(getattr(sums, name), _np(claims[name])), name


def test_every_code_is_in_the_catalogue_and_valid_on_its_day(
    parts: tuple[pa.Table, ...],
) -> None:
    _, claims, lines = parts
    items = shipped_items("360100")[1]
    known = {i.code for i in items}
    codes = set(_np(pc.unique(lines["code"])))
    assert codes <= known
    for code in codes:
        days = pc.filter(lines["fee_date"], pc.equal(lines["code"], code))
        first, last = pc.min(days).as_py(), pc.max(days).as_py()
        versions = [i for i in items if i.code == code]
        assert any(i.applies_on(first) for i in versions), code
        assert any(i.applies_on(last) for i in versions), code
    # and within the visit: an admission's lines from admission to discharge, a visit's on its day
    at = np.searchsorted(_np(claims["claim_id"]), _np(lines["claim_id"]))
    day = _days(lines["fee_date"])
    end = _days(claims["date"])[at]
    los = _np(claims["los_days"]).astype(np.int64)[at]
    assert ((day <= end) & (day >= end - los)).all()


def _shares(parts: tuple[pa.Table, ...]) -> dict[str, dict[str, float]]:
    _, claims, lines = parts
    by_code = {i.code: i for i in shipped_items("360100")[1]}
    code = _np(lines["code"])
    kind = np.array([by_code[c].kind for c in code])
    item_class = np.array([by_code[c].item_class for c in code])
    amount = _np(lines["amount"])
    at = np.searchsorted(_np(claims["claim_id"]), _np(lines["claim_id"]))
    med = _np(claims["med_type"])
    out: dict[str, dict[str, float]] = {}
    for m in ("inpatient", "outpatient", "pharmacy", "chronic"):
        sel = med[at] == m
        total = amount[sel].sum()
        cl = claims.filter(pc.equal(claims["med_type"], m))
        out[m] = {
            "drug": amount[sel & (kind == ItemKind.DRUG)].sum() / total,
            "class_c": amount[sel & (item_class == ItemClass.C)].sum() / total,
            "class_b": amount[sel & (item_class == ItemClass.B)].sum() / total,
            "over_limit": pc.sum(cl["over_limit"]).as_py() / total,
            "self_paid": pc.sum(cl["fully_self_paid"]).as_py() / total,
            "lines_per_visit": sel.sum() / (med == m).sum(),
        }
    return out


def test_mixes_are_within_tolerance_of_their_targets(parts: tuple[pa.Table, ...]) -> None:
    """Fixed seed: the drug share (药占比), class mix and line counts land near the figures of
    docs/synthetic-data.md."""
    s = _shares(parts)
    assert 0.18 <= s["inpatient"]["drug"] <= 0.32
    assert 0.33 <= s["outpatient"]["drug"] <= 0.55
    assert s["pharmacy"]["drug"] == 1.0
    assert 0.05 <= s["inpatient"]["class_c"] <= 0.15
    assert 0.15 <= s["inpatient"]["class_b"] <= 0.32
    assert 0.07 <= s["inpatient"]["self_paid"] <= 0.14
    assert 0.001 <= s["inpatient"]["over_limit"] <= 0.02
    assert 35 <= s["inpatient"]["lines_per_visit"] <= 90
    assert 2 <= s["outpatient"]["lines_per_visit"] <= 7
    assert 1 <= s["pharmacy"]["lines_per_visit"] <= 3


def test_cost_levels_stay_close_to_the_calibration(parts: tuple[pa.Table, ...]) -> None:
    """The lines' totals keep the claims' per-level averages (docs/synthetic-data.md: about
    3,100 / 6,700 / 13,300 yuan an admission; 100 / 230 / 420 a visit)."""
    _, claims, _ = parts
    for med, expected, tolerance in (
        ("inpatient", (3_100, 6_700, 13_300), 0.2),
        ("outpatient", (100, 230, 420), 0.1),
    ):
        cl = claims.filter(pc.equal(claims["med_type"], med))
        for level, mean in zip((1, 2, 3), expected, strict=True):
            sel = cl.filter(pc.equal(cl["level"], level))
            got = pc.mean(sel["total"]).as_py() / 100
            assert abs(got / mean - 1) <= tolerance, (med, level, got)


def test_diagnoses_principal_first_with_comorbidities_rising_with_age(
    parts: tuple[pa.Table, ...],
) -> None:
    persons, claims, _ = parts
    dx = claims["diagnoses"].to_pylist()
    principal = claims["diagnosis"].to_pylist()
    for listed, main in zip(dx, principal, strict=True):
        assert (listed[0] if listed else None) == main
        assert len(set(listed)) == len(listed)
    med = _np(claims["med_type"])
    for listed, m in zip(dx, med, strict=True):
        assert (DELIVERY_OUTCOME in listed) == (m == "maternity")
        if m not in ("inpatient", "maternity"):
            assert len(listed) <= 1
    psn = _np(persons["psn_no"])
    age = (YEAR - _np(pc.year(persons["birth_date"])))[np.searchsorted(psn, _np(claims["psn_no"]))]
    hypertension = np.array(["I10" in listed[1:] for listed in dx])
    stay = med == "inpatient"
    assert hypertension[stay & (age >= 65)].mean() > 3 * hypertension[stay & (age < 45)].mean()


def test_procedures_and_discharge_status_belong_to_admissions(
    parts: tuple[pa.Table, ...],
) -> None:
    _, claims, _ = parts
    procs = claims["procedures"].to_pylist()
    for listed, main in zip(procs, claims["procedure"].to_pylist(), strict=True):
        assert (listed[0] if listed else None) == main
    med = _np(claims["med_type"])
    admitted = (med == "inpatient") | (med == "maternity")
    status = claims["discharge_status"]
    assert status.null_count == int((~admitted).sum())
    values = _np(status.filter(pa.array(admitted)))
    assert set(values) <= {"1", "2", "3", "4", "5", "9"}
    assert (values == "1").mean() > 0.9
    assert 0 < (values == "5").mean() < 0.02


def _item(code: str, kind: ItemKind, fee_type: str = "", **kw: object) -> CatalogueItem:
    return CatalogueItem(
        code=code,
        name=code,
        kind=kind,
        item_class=ItemClass.A,
        typical_price=10_000_000,
        fee_type=fee_type,
        **kw,  # type: ignore[arg-type]
    )


def test_a_catalogue_without_a_role_is_refused_naming_it() -> None:
    items = [_item("X01", ItemKind.DRUG), _item("C01", ItemKind.CONSUMABLE)]
    with pytest.raises(CatalogueUnfit, match="bed"):
        build_pool(items, 20_000, 20_365)
    # items not valid all through the span do not count
    late = dt.date(2025, 6, 1)
    full = [
        _item("B01", ItemKind.SERVICE, "01", max_per_day=10_000),
        _item("N01", ItemKind.SERVICE, "07", max_per_day=10_000),
        _item("W01", ItemKind.SERVICE, "02", max_per_day=10_000, valid_from=late),
        _item("O01", ItemKind.SERVICE, "02"),
        _item("S01", ItemKind.SERVICE, "04"),
        *items,
    ]
    start = (dt.date(2025, 1, 1) - EPOCH).days
    with pytest.raises(CatalogueUnfit, match="ward"):
        build_pool(full, start, start + 364)


def test_summary_sets_the_line_figures_beside_the_published_ones(area: Path) -> None:
    from yibao.synth import summarize

    result = summarize(area)
    figures = result["figures"]
    drug = figures["drug_share_inpatient"]
    assert drug["published"] == 34.6 and drug["source"] in result["sources"]
    assert 18 <= drug["value"] <= 32
    assert figures["drug_share_outpatient"]["published"] == 45.5
    assert figures["lines_per_admission"]["value"] > 30
    assert figures["hypertension_adults"]["source"] in result["sources"]
    chapters = result["rankings"]["admission_chapters"]
    assert chapters["source"] in result["sources"]
    assert chapters["published"][:2] == ["circulatory", "respiratory"]
    top = [name for name, _ in chapters["generated"][:3]]
    assert {"circulatory", "respiratory"} <= set(top)


@pytest.fixture(scope="module")
def pool() -> ItemPool:
    return item_pool("360100", YEAR)[1]


@settings(max_examples=60, deadline=None)
@given(
    role=st.sampled_from([SERVICE, DRUG, CONSUMABLE]),
    item_class=st.integers(0, 2),
    yuan=st.floats(0.05, 50_000.0),
)
def test_pick_takes_the_nearest_item_of_the_group(
    pool: ItemPool, role: int, item_class: int, yuan: float
) -> None:
    """The item picked for a target price is of the line's role and unrestricted, and no other
    such item of its class (or, when the class has none, of any class) is nearer the target by
    more than the lookup grid's step (log scale)."""
    group = (role * 4 + item_class) * 2 + 1
    chosen = int(pick(pool, np.array([group]), np.array([yuan]))[0])
    members = pool.order[pool.start[group] : pool.end[group]]
    assert chosen in set(members.tolist())
    distance = np.abs(np.log(pool.price[members] / PRICE_SCALE) - np.log(yuan))
    mine = abs(np.log(pool.price[chosen] / PRICE_SCALE) - np.log(yuan))
    assert mine <= distance.min() + 0.01
