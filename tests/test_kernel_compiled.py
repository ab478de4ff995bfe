"""The compiled kernel (``kernel.jit``, ``kernel.single_pass``, ``kernel.layers``): its shared
pieces by hand, the exact wide division, inputs of any integer dtype or memory layout, the
on-disk cache's place, and a calculator that starts without Numba."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.kernel import jit
from yibao.kernel.layers.common import (
    band_sum,
    banded_schedule,
    deductible_growth,
    mul_div_half_up,
    within_cap,
)
from yibao.kernel.settle import Claims, Persons, settle_claims, state_keys, warm
from yibao.kernel.tables import AMOUNT, EXCESS, OPEN, compile_tables, epoch_days
from yibao.policy import Policy

BANDS = np.array([30000, 100000, OPEN], dtype=np.int64)
RATIOS = np.array([600_000, 700_000, 800_000], dtype=np.int64)  # 60 %, 70 %, 80 %


def test_a_capped_layer_pays_up_to_its_cap_and_keeps_raw_and_paid() -> None:
    state = np.zeros((2, 1), dtype=np.int64)
    state[:, 0] = (800, 800)  # raw, paid so far
    assert within_cap(state, 0, 0, 300, 1000) == (200, 800)  # 1000 - 800 left
    assert list(state[:, 0]) == [1100, 1000]
    assert within_cap(state, 0, 0, 50, 1000) == (0, 1000)  # the cap reached
    assert within_cap(state, 0, 0, 50, 1200) == (50, 1000)  # a raised cap: this claim's own


def test_an_annual_deductible_is_borne_until_the_years_base_passes_it() -> None:
    state = np.zeros((1, 1), dtype=np.int64)
    assert deductible_growth(state, 0, 0, 400, 1000) == (0, 400)
    assert deductible_growth(state, 0, 0, 900, 1000) == (300, 600)  # 1300 - 1000 above
    assert deductible_growth(state, 0, 0, 100, 1000) == (100, 0)
    assert state[0, 0] == 1400


def test_banded_schedules_by_hand() -> None:
    # 200 000 fen above a deductible of 10 000, bands on the amount: 20 000 × 0.6 + 70 000 ×
    # 0.7 + 100 000 × 0.8 = 141 000; on the excess (190 000): 30 000 × 0.6 + 70 000 × 0.7 +
    # 90 000 × 0.8 = 139 000 (scaled by 10^6)
    assert band_sum(BANDS, RATIOS, 10_000, 200_000) == 141_000 * 10**6
    assert banded_schedule(BANDS, RATIOS, AMOUNT, 10_000, 200_000) == 141_000 * 10**6
    assert banded_schedule(BANDS, RATIOS, EXCESS, 10_000, 200_000) == 139_000 * 10**6
    assert banded_schedule(BANDS, RATIOS, AMOUNT, 10_000, 5_000) == 0


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 10**12),
    st.integers(1, 2**61).flatmap(lambda z: st.tuples(st.integers(0, z), st.just(z))),
)
def test_the_wide_division_is_exact(x: int, yz: tuple[int, int]) -> None:
    """x × y / z half up, as Python's integers compute it, where x × y passes int64."""
    y, z = yz
    assert mul_div_half_up(x, y, z) == (2 * x * y + z) // (2 * z)


def _batch() -> tuple[Claims, Persons]:
    day = epoch_days(__import__("datetime").date(2025, 5, 1))
    n = 4
    claims = Claims(
        person=np.array([0, 0, 1, 1]),
        date=np.full(n, day) + np.arange(n),
        med_type=np.array([0, 1, 0, 2]),
        level=np.array([2, 0, 1, 0]),
        cross_region=np.array([0, 0, 2, 0]),
        total=np.array([30_000_000, 50_000, 80_000_000, 120_000]),
        fully_self_paid=np.array([100_000, 0, 0, 5_000]),
        over_limit=np.zeros(n, dtype=np.int64),
        category_b=np.array([1_000_000, 0, 0, 0]),
        disease=np.array([-2, -2, -2, 0]),
        listed_self_paid=np.array([0, 0, 0, 5_000]),
    )
    persons = Persons(
        scheme=np.array([2, 0]),
        aid_class=np.array([2, 0]),
        account_balance=np.array([0, 500_000]),
        use_account=np.array([False, True]),
        mutual_aid_balance=np.array([0, 0]),
        incentive_raise=np.array([0, 0]),
        entitled_from=np.array([0, 0]),
        com_deductible=np.array([0, 10_000]),
        com_ratio=np.array([0, 800_000]),
        com_cap=np.array([0, 5_000_000]),
        com_covers=np.array([0, 3]),
    )
    return claims, persons


def test_columns_of_any_integer_dtype_or_layout_settle_alike() -> None:
    """int32 columns, read-only columns (Arrow's) and strided views give the same result as
    contiguous int64 (the edge converts; one compiled version serves every caller)."""
    tables = compile_tables(Policy("000000"), 2025)
    claims, persons = _batch()
    want = settle_claims(tables, claims, persons)

    def readonly(a: np.ndarray) -> np.ndarray:
        a = a.copy()
        a.flags.writeable = False
        return a

    def strided(a: np.ndarray) -> np.ndarray:
        return np.repeat(a, 2)[::2]

    for change in (lambda a: a.astype(np.int32), readonly, strided):
        fields = {k: change(v) for k, v in vars(claims).items()}
        got = settle_claims(tables, Claims(**fields), persons)
        for name, column in want.columns.items():
            assert np.array_equal(column, got.columns[name]), name
    assert list(want.state.values) == state_keys(tables)


def test_one_persons_claims_settle_alone_as_in_a_batch() -> None:
    """One person's claims settled alone (several claims: the batch's entry; one claim: the
    one-row entry, ``settle_each``) give the person's rows and state exactly as the batch of
    every person does, with a state carried from one call to the next."""
    tables = compile_tables(Policy("000000"), 2025)
    claims, persons = _batch()
    want = settle_claims(tables, claims, persons)
    for p, rows in ((0, slice(0, 2)), (1, slice(2, 4))):
        mine = Claims(**{k: v[rows] for k, v in vars(claims).items()})
        person = Persons(**{k: v[p : p + 1] for k, v in vars(persons).items()})
        alone = settle_claims(tables, mine, person)
        # the aid tiers' columns are there when an aid recipient was settled (person 0)
        assert ("maf_pay:0" in alone.columns) == (p == 0)
        for name, column in alone.columns.items():
            assert np.array_equal(want.columns[name][rows], column), name
        for key, values in want.state.values.items():
            assert alone.state.values[key][0] == values[p], key
        # claim by claim, the state of the first call carried into the second
        first = Claims(**{k: v[:1] for k, v in vars(mine).items()})
        second = Claims(**{k: v[1:] for k, v in vars(mine).items()})
        one = settle_claims(tables, first, person)
        two = settle_claims(tables, second, person, one.state)
        assert two.columns["hifp_pay"][0] == want.columns["hifp_pay"][rows][1]
        assert dict(two.state.row(0)) == {k: int(v[p]) for k, v in want.state.values.items()}


def test_the_one_person_row_takes_the_fields_in_their_declared_order() -> None:
    """A request's row (``settle_each``'s) is the dataclasses' fields in order."""
    from dataclasses import fields

    from yibao.kernel.columns import CLAIM_FIELDS, PERSON_FIELDS

    assert tuple(f.name for f in fields(Claims)) == CLAIM_FIELDS
    assert tuple(f.name for f in fields(Persons)) == PERSON_FIELDS


def test_result_rows_read_as_a_mapping_and_change_like_one() -> None:
    tables = compile_tables(Policy("000000"), 2025)
    claims, persons = _batch()
    result = settle_claims(tables, claims, persons)
    state = result.state.values
    assert list(state) == state_keys(tables) and len(state) == len(state_keys(tables))
    before = state["acct.paid"].copy()
    state["extra"] = np.array([1, 2])  # a key the kernel does not keep: carried as given
    assert np.array_equal(state["acct.paid"], before) and "extra" in state
    del state["extra"]
    assert list(state) == state_keys(tables)
    assert "hifp_pay" in result.columns and "nonsense" not in result.columns


def test_warming_settles_one_claim() -> None:
    warm(compile_tables(Policy("000000"), 2025))


def test_the_cache_is_the_users_own_unless_numba_cache_dir_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert jit.cache_dir() == tmp_path / "yibao" / "numba"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert jit.cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    (tmp_path / "file").write_text("")  # a cache home that cannot hold a directory
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    assert jit.cache_dir().parent == Path(tempfile.gettempdir())
    # one directory per version of the kernel's sources
    assert jit.CACHE.name == jit.source_digest() != ""


def test_the_calculators_help_does_not_import_numba() -> None:
    script = (
        "import sys\n"
        "sys.argv = ['yibao', 'calc', '--help']\n"
        "from yibao.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('numba' in sys.modules, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.stderr.strip().splitlines()[-1] == "False", proc.stderr
