"""The synthetic pooling area generator (issue 4): determinism, validity, distributions."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric
from typer.testing import CliRunner

from yibao.batch.area import PAYMENTS, read_part, settle_area
from yibao.cli.synth import app
from yibao.kernel.arrow import claims_from_arrow, settle_table
from yibao.kernel.schema import CLAIM_COLUMNS, NULLABLE, PERSON_COLUMNS
from yibao.kernel.settle import settle_claims
from yibao.kernel.stream import KernelPool
from yibao.kernel.tables import compile_tables
from yibao.policy import Policy
from yibao.synth import SynthConfig, fund_ratio, generate, summarize
from yibao.synth.dates import add_months, day_number
from yibao.synth.ids import check_values, place_code
from yibao.synth.summary import draw_chart

YEAR = 2025
SAMPLE = 50_000

CLAIM_TYPES = {
    "psn_no": pa.int64(),
    "date": pa.date32(),
    "med_type": pa.string(),
    "level": pa.int8(),
    "cross_region": pa.string(),
    "total": pa.int64(),
    "fully_self_paid": pa.int64(),
    "over_limit": pa.int64(),
    "category_b": pa.int64(),
}
PERSON_TYPES = {
    "psn_no": pa.int64(),
    "scheme": pa.string(),
    "assistance_class": pa.string(),
    "account_balance": pa.int64(),
    "use_account": pa.bool_(),
    "mutual_aid_balance": pa.int64(),
    "incentive_raise": pa.int64(),
    "entitled_from": pa.date32(),
}
EXTRA_PERSON = ("national_id", "name", "sex", "birth_date", "household_id", "relation", "wage",
                "groups", "enrolled_on", "coverage_history")  # fmt: skip
EXTRA_CLAIM = ("diagnosis", "procedure", "fixmedins_code", "los_days", "admit_date", "claim_id")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(out, SynthConfig("360100", SAMPLE, YEAR, seed=7, chunk_size=20_000))
    return out


@pytest.fixture(scope="module")
def persons(sample: Path) -> pa.Table:
    return pq.read_table(sample / "persons")


@pytest.fixture(scope="module")
def claims(sample: Path) -> pa.Table:
    return pq.read_table(sample / "claims")


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    config = SynthConfig("360100", 5_000, YEAR, seed=11, chunk_size=2_000)
    generate(tmp_path / "a", config)
    generate(tmp_path / "b", config)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == [
        "claims/part-00000.parquet", "claims/part-00001.parquet", "claims/part-00002.parquet",
        "lines/part-00000.parquet", "lines/part-00001.parquet", "lines/part-00002.parquet",
        "meta.json",
        "persons/part-00000.parquet", "persons/part-00001.parquet", "persons/part-00002.parquet",
    ]  # fmt: skip
    assert a == b


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", SynthConfig("360100", 2_000, YEAR, seed=1))
    generate(tmp_path / "b", SynthConfig("360100", 2_000, YEAR, seed=2))
    a = pq.read_table(tmp_path / "a" / "claims")
    b = pq.read_table(tmp_path / "b" / "claims")
    assert not a.equals(b)


def test_regenerating_replaces_old_parts(tmp_path: Path) -> None:
    generate(tmp_path, SynthConfig("360100", 3_000, YEAR, seed=1, chunk_size=1_000))
    generate(tmp_path, SynthConfig("360100", 1_500, YEAR, seed=1, chunk_size=1_000))
    assert len(list((tmp_path / "persons").glob("*.parquet"))) == 2
    assert pq.read_table(tmp_path / "persons").num_rows == 1_500
    assert json.loads((tmp_path / "meta.json").read_text())["persons"] == 1_500


# --- the column contract ----------------------------------------------------------------------


def test_columns_follow_the_kernel_contract(persons: pa.Table, claims: pa.Table) -> None:
    assert set(CLAIM_TYPES) == set(CLAIM_COLUMNS)
    assert set(PERSON_TYPES) == set(PERSON_COLUMNS)
    for name, type_ in CLAIM_TYPES.items():
        assert claims.schema.field(name).type == type_, name
    for name, type_ in PERSON_TYPES.items():
        assert persons.schema.field(name).type == type_, name
    assert set(EXTRA_PERSON) <= set(persons.column_names)
    assert set(EXTRA_CLAIM) <= set(claims.column_names)
    assert set(pc.unique(claims["med_type"]).to_pylist()) <= {
        "inpatient", "outpatient", "chronic", "maternity", "pharmacy"
    }  # fmt: skip
    assert set(pc.unique(claims["level"]).to_pylist()) <= {1, 2, 3}
    assert set(pc.unique(claims["cross_region"]).to_pylist()) == {
        None, "registered", "referred", "temporary"
    }  # fmt: skip
    assert set(pc.unique(persons["assistance_class"]).to_pylist()) == {
        None, "tekun", "dibao", "low_income_edge", "monitored", "ill_poor"
    }  # fmt: skip


def test_the_kernel_columns_without_nulls_are_written_required(sample: Path) -> None:
    """Every kernel column but the nullable ones is a required (not-null) Parquet column, so a
    reader decodes no definition levels for it; the others stay optional."""
    for part, names in (("claims", CLAIM_COLUMNS), ("persons", PERSON_COLUMNS)):
        schema = pq.read_schema(sample / part / "part-00000.parquet")
        for name in names:
            assert schema.field(name).nullable == (name in NULLABLE), (part, name)


def test_claims_parse_in_the_kernel(sample: Path) -> None:
    table = pq.read_table(sample / "claims" / "part-00000.parquet")
    assert len(claims_from_arrow(table).total) == table.num_rows


def test_a_part_reads_alike_in_any_layout(sample: Path, tmp_path: Path) -> None:
    """``batch.area.read_part`` of a generated part equals that of the same rows shuffled and
    written with plain strings, zstd and no dictionary (an older part's layout), and settles as
    ``settle_table`` settles the part's tables."""
    persons_path, claims_path = (
        sample / "persons" / "part-00001.parquet",
        sample / "claims" / "part-00001.parquet",
    )
    claims, persons = pq.read_table(claims_path), pq.read_table(persons_path)
    rng = np.random.default_rng(3)
    psn = claims["psn_no"].to_numpy()
    keys, at = np.unique(psn, return_inverse=True)
    # the persons in a random order, each one's claims kept in theirs (same-day claims too)
    claim_order = np.argsort(rng.permutation(len(keys))[at], kind="stable")
    orders = {"claims": claim_order, "persons": rng.permutation(persons.num_rows)}
    old = tmp_path / "old"
    for name, table in (("claims", claims), ("persons", persons)):
        (old / name).mkdir(parents=True)
        shuffled = table.take(pa.array(orders[name]))
        pq.write_table(shuffled, old / name / "part-00001.parquet", compression="zstd",
                       use_dictionary=False)  # fmt: skip
    new_c, new_p = read_part(persons_path, claims_path)
    old_c, old_p = read_part(old / "persons" / "part-00001.parquet",
                             old / "claims" / "part-00001.parquet", use_threads=False)  # fmt: skip
    for new, was in ((new_c, old_c), (new_p, old_p)):
        for f in fields(new):
            assert np.array_equal(getattr(new, f.name), getattr(was, f.name)), f.name
    tables = compile_tables(Policy("360100"), YEAR)
    settled = settle_claims(tables, new_c, new_p, explain=False)
    table, _ = settle_table(tables, claims, persons)
    for name in ("hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay", "acct_pay", "psn_cash_pay"):
        assert np.array_equal(settled.columns[name], table[name].to_numpy()), name
    assert settled.columns["fund_pay_sumamt"].sum() > 0


def test_an_area_settles_to_parquet_as_each_part_settles(sample: Path, tmp_path: Path) -> None:
    """``batch.area.settle_area`` writes each part's payments, claim by claim in (psn_no, date)
    order, equal to ``settle_table`` on the part, on a pool of two threads and in batches that
    cut the parts; an empty part gets an empty file."""
    area = tmp_path / "area"
    for sub in ("persons", "claims"):
        (area / sub).mkdir(parents=True)
        for part in sorted((sample / sub).glob("part-*.parquet")):
            (area / sub / part.name).symlink_to(part)
        empty = pq.read_table(sample / sub / "part-00000.parquet").slice(0, 0)
        for name in ("part-00000x.parquet", "part-00009.parquet"):  # between parts, and last
            pq.write_table(empty, area / sub / name)
    tables = compile_tables(Policy("360100"), YEAR)
    out = tmp_path / "out"
    with KernelPool(tables, 2) as pool:
        done = settle_area(area, out, lambda b: pool.stream(b, columns=PAYMENTS), batch=7_000)
    claims = sorted((sample / "claims").glob("part-*.parquet"))
    assert done == sum(pq.read_metadata(part).num_rows for part in claims)
    for part in claims:
        written = pq.read_table(out / part.name)
        assert written.schema.names == list(PAYMENTS)
        expected, _ = settle_table(
            tables, pq.read_table(part), pq.read_table(sample / "persons" / part.name)
        )
        for name in PAYMENTS:
            assert written[name].to_pylist() == expected[name].to_pylist(), (part.name, name)
    for name in ("part-00000x.parquet", "part-00009.parquet"):
        assert pq.read_table(out / name).num_rows == 0


# --- validity ---------------------------------------------------------------------------------


def test_every_national_id_is_valid_and_unique(persons: pa.Table) -> None:
    ids = persons["national_id"].to_pylist()
    assert all(ric.is_valid(x) for x in ids)
    assert len(set(ids)) == len(ids)
    births = persons["birth_date"].to_pylist()
    sexes = persons["sex"].to_pylist()
    for x, born, sex in zip(ids[:5000], births, sexes, strict=False):
        assert x[:6] == "360100"
        assert ric.get_birth_date(x) == born
        assert int(x[16]) % 2 == (1 if sex == "M" else 0)


def test_check_digit_matches_stdnum() -> None:
    rng = np.random.default_rng(3)
    bodies = rng.integers(10**16, 10**17, 2_000)
    ours = check_values(bodies)
    for body, value in zip(bodies, ours, strict=True):
        assert ric.calc_check_digit(f"{body}0") == "0123456789X"[value]


def test_region_code_without_a_place_is_refused(tmp_path: Path) -> None:
    assert place_code("360102", 1950) == "360100"  # the district exists from 1983 only
    with pytest.raises(ValueError, match="not a division code"):
        generate(tmp_path, SynthConfig("000000", 10, YEAR, seed=1))


def test_claim_parts_are_within_the_total(claims: pa.Table) -> None:
    total = claims["total"].to_numpy()
    parts = [claims[c].to_numpy() for c in ("fully_self_paid", "over_limit", "category_b")]
    assert (total > 0).all()
    for part in parts:
        assert (part >= 0).all() and (part <= total).all()
    assert (parts[0] + parts[1] + parts[2] <= total).all()


def test_every_person_is_in_exactly_one_scheme(persons: pa.Table) -> None:
    assert persons["scheme"].null_count == 0
    assert set(pc.unique(persons["scheme"]).to_pylist()) == {
        "employee", "retiree", "flexible", "resident"
    }  # fmt: skip
    psn = persons["psn_no"].to_numpy()
    assert len(np.unique(psn)) == len(psn) == SAMPLE


def test_claims_are_sorted_and_belong_to_persons(
    sample: Path, persons: pa.Table, claims: pa.Table
) -> None:
    psn = claims["psn_no"].to_numpy()
    day = claims["date"].cast(pa.int32()).to_numpy()
    assert np.all((psn[1:] > psn[:-1]) | ((psn[1:] == psn[:-1]) & (day[1:] >= day[:-1])))
    assert np.isin(psn, persons["psn_no"].to_numpy()).all()
    first, last = day_number(dt.date(YEAR, 1, 1)), day_number(dt.date(YEAR, 12, 31))
    assert day.min() >= first and day.max() <= last
    ids = claims["claim_id"].to_numpy()
    assert len(np.unique(ids)) == len(ids)


def test_claims_start_after_birth_and_enrolment(persons: pa.Table, claims: pa.Table) -> None:
    born = persons.select(["psn_no", "birth_date", "enrolled_on"])
    joined = claims.select(["psn_no", "date", "admit_date", "los_days"]).join(born, "psn_no")
    assert pc.all(pc.greater_equal(joined["date"], joined["birth_date"])).as_py()
    admitted = joined.filter(pc.is_valid(joined["admit_date"]))
    assert pc.all(pc.less_equal(admitted["admit_date"], admitted["date"])).as_py()
    assert pc.min(joined["los_days"]).as_py() >= 0


def test_households_and_accounts_are_consistent(persons: pa.Table) -> None:
    psn = persons["psn_no"].to_numpy()
    head = persons["household_id"].to_numpy()
    relation = np.array(persons["relation"].to_pylist())
    index = np.searchsorted(psn, head)
    assert (psn[index] == head).all()
    assert (relation[index] == "head").all()
    assert set(relation) == {"head", "spouse", "child", "parent", "sibling", "grandchild",
                             "grandparent"}  # fmt: skip
    scheme = np.array(persons["scheme"].to_pylist())
    resident = scheme == "resident"
    assert (persons["account_balance"].to_numpy()[resident] == 0).all()
    assert (persons["mutual_aid_balance"].to_numpy()[~resident] == 0).all()
    assert (persons["mutual_aid_balance"].to_numpy()[resident] > 0).any()
    aid = persons["assistance_class"].is_valid().to_numpy(zero_copy_only=False)
    assert not (aid & ~resident).any()
    wage = persons["wage"].is_valid().to_numpy(zero_copy_only=False)
    assert (wage == ((scheme == "employee") | (scheme == "flexible"))).all()


# --- distributions ----------------------------------------------------------------------------


def _share(mask: Any) -> float:
    return 100.0 * float(np.mean(mask))


def test_age_structure_follows_the_census(persons: pa.Table) -> None:
    age = YEAR - pc.year(persons["birth_date"]).to_numpy()
    assert abs(_share(age < 15) - 17.95) <= 2
    assert abs(_share((age >= 15) & (age < 60)) - 63.35) <= 2
    assert abs(_share(age >= 60) - 18.70) <= 2


def test_scheme_mix(persons: pa.Table) -> None:
    scheme = np.array(persons["scheme"].to_pylist())
    employees = scheme != "resident"
    assert abs(_share(employees) - 29) <= 2
    assert abs(_share(scheme[employees] == "retiree") - 28) <= 3
    age = YEAR - pc.year(persons["birth_date"]).to_numpy()
    assert (age[scheme == "retiree"] >= 50).all()
    assert (age[(scheme == "employee") | (scheme == "flexible")] >= 18).all()


def test_admissions_and_visits(persons: pa.Table, claims: pa.Table) -> None:
    med = np.array(claims["med_type"].to_pylist())
    per_100 = 100 * np.isin(med, ["inpatient", "maternity"]).sum() / SAMPLE
    assert 15 <= per_100 <= 25
    assert 2 <= (med == "outpatient").sum() / SAMPLE <= 6
    total = claims["total"].to_numpy()
    inpatient = med == "inpatient"
    assert (total[inpatient] > 10_000_000).sum() >= 5  # some bills over 100,000 yuan
    means = [total[inpatient & (claims["level"].to_numpy() == lv)].mean() for lv in (1, 2, 3)]
    assert means[0] < means[1] < means[2]


def test_waiting_periods_incentives_and_newborns_occur(persons: pa.Table) -> None:
    jan1 = day_number(dt.date(YEAR, 1, 1))
    entitled = persons["entitled_from"].cast(pa.int32()).to_numpy(zero_copy_only=False)
    waiting = ~np.isnan(entitled.astype(float))
    assert 1 <= _share(waiting) <= 15
    assert (entitled[waiting] > jan1).all()
    assert pc.sum(pc.greater(persons["lapsed_years"], 0)).as_py() > 0
    assert pc.sum(pc.greater(persons["incentive_raise"], 0)).as_py() > 0
    groups = pc.list_flatten(persons["groups"])
    assert pc.sum(pc.equal(groups, "newborn")).as_py() > 0
    assert pc.sum(pc.equal(groups, "student")).as_py() > 0


def test_add_months_clips_to_the_month_end() -> None:
    days = np.array([day_number(dt.date(2025, 1, 31)), day_number(dt.date(2024, 11, 15))])
    moved = add_months(days, np.array([1, 3]))
    assert list(moved) == [day_number(dt.date(2025, 2, 28)), day_number(dt.date(2025, 2, 15))]


# --- summary and command line -----------------------------------------------------------------


def test_summary_beside_published_figures(sample: Path, tmp_path: Path) -> None:
    result = summarize(sample)
    figures = result["figures"]
    assert figures["persons"]["value"] == SAMPLE
    assert figures["employee_share"]["published"] == 27.8
    assert abs(figures["age_60_plus"]["value"] - 18.70) <= 2
    # settled through the kernel: within 10 points of the national 84.6% and 68.1%
    assert abs(figures["fund_ratio_employee"]["value"] - 84.6) <= 10
    assert abs(figures["fund_ratio_resident"]["value"] - 68.1) <= 10
    assert figures["fund_ratio_resident"]["published"] == 68.1
    assert fund_ratio(sample) == {
        "employee": figures["fund_ratio_employee"]["value"],
        "resident": figures["fund_ratio_resident"]["value"],
    }
    assert set(result["sources"]) >= {"NHSA2023", "CENSUS2020"}
    png = draw_chart(result, tmp_path / "chart.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_generate_and_summary(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "area"
    args = ["--persons", "1500", "--year", "2025", "--seed", "3", "--out", str(out), "--quiet"]
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 0, result.output
    assert (out / "claims" / "part-00000.parquet").exists()
    again = runner.invoke(app, [*args[:-1]])  # options without a command generate too
    assert again.exit_code == 0, again.output
    result = runner.invoke(app, ["summary", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["figures"]["persons"]["value"] == 1500
    bad = runner.invoke(app, ["generate", "--region", "12345", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2
