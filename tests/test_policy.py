"""Parameters (parameters.md): dated values, null ends, inheritance, relative values, overlays,
floors and errors that name the file, the path and the reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from yibao.policy import ParameterError, Policy, UnknownRegion, available_regions

D = dt.date


def write(folder: Path, region: str, body: str) -> None:
    (folder / f"{region}.yaml").write_text(body, encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    national = Path(__file__).parents[1] / "src/yibao/policy/regions/000000.yaml"
    (tmp_path / "000000.yaml").write_text(national.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


def test_dated_values_hold_from_their_date_until_the_next() -> None:
    p = Policy("000000")
    assert p.get("resident.contribution.fiscal_subsidy", D(2024, 12, 31)) == 67000
    assert p.get("resident.contribution.fiscal_subsidy", D(2025, 1, 1)) == 70000
    # NCMS2011: "from 120 yuan ... to 200 yuan" (2010 -> 2011); GF2007-20: "no less than 40"
    assert p.get("resident.contribution.fiscal_subsidy", D(2010, 6, 1)) == 120_00
    assert p.get("resident.contribution.fiscal_subsidy", D(2011, 1, 1)) == 200_00
    assert p.get("resident.contribution.fiscal_subsidy", D(2007, 12, 31)) == 40_00


def test_amounts_are_fen_and_rates_exact_decimals() -> None:
    p = Policy("000000")
    assert p.get("critical_illness.cap", D(2025, 1, 1)) == 30_000_000
    assert p.get("large_amount.ratio", D(2025, 1, 1)) == Decimal("0.9")
    assert p.get("resident.waiting.fixed_months", D(2025, 1, 1)) == 3


def test_relative_values_follow_their_reference() -> None:
    p = Policy("000000")
    # critical illness deductible = 50% of last year's per-capita disposable income (41314)
    assert p.get("critical_illness.deductible", D(2025, 3, 1)) == 2_065_700
    assert p.get("benefits.employee.inpatient.basic.annual_cap", D(2025, 3, 1)) == 6 * 12_411_000


def test_null_ends_a_parameter(folder: Path) -> None:
    write(
        folder,
        "100000",
        'region: "100000"\nparameters:\n  large_amount:\n'
        "    cap: {2024-01-01: 500000, 2025-01-01: null}\n",
    )
    p = Policy("100000", folder=folder)
    assert p.get("large_amount.cap", D(2024, 6, 1)) == 50_000_000
    with pytest.raises(ParameterError, match=r"large_amount.cap: ended before 2025-06-01"):
        p.get("large_amount.cap", D(2025, 6, 1))


def test_inheritance_walks_region_parent_national(folder: Path) -> None:
    write(
        folder,
        "360000",
        'region: "360000"\nparameters:\n  resident:\n    incentives:\n'
        "      continuous: {amount: 3000}\n",
    )
    write(
        folder,
        "360100",
        'region: "360100"\nparent: "360000"\nparameters:\n  large_amount: {cap: 450000}\n',
    )
    p = Policy("360100", folder=folder)
    assert p.get("large_amount.cap", D(2025, 1, 1)) == 45_000_000
    assert p.get("resident.incentives.continuous.amount", D(2025, 1, 1)) == 300_000
    assert p.get("critical_illness.cap", D(2025, 1, 1)) == 30_000_000


def test_a_region_value_before_its_first_date_falls_back_to_the_parent(folder: Path) -> None:
    write(
        folder,
        "100000",
        'region: "100000"\nparameters:\n  large_amount:\n    cap: {2025-01-01: 500000}\n',
    )
    p = Policy("100000", folder=folder)
    assert p.get("large_amount.cap", D(2024, 6, 1)) == 40_000_000
    assert p.get("large_amount.cap", D(2025, 6, 1)) == 50_000_000


def test_overlay_replaces_values_of_a_region() -> None:
    p = Policy("000000", overlays=[{"large_amount": {"ratio": 0.95}}])
    assert p.get("large_amount.ratio", D(2025, 1, 1)) == Decimal("0.95")
    assert p.get("large_amount.cap", D(2025, 1, 1)) == 40_000_000


def test_bands_and_sources() -> None:
    p = Policy(
        "000000",
        overlays=[
            {"critical_illness": {"bands": [{"upto": 100000, "ratio": 0.6}, {"ratio": 0.7}]}}
        ],
    )
    assert p.get("critical_illness.bands", D(2025, 1, 1)) == [
        {"upto": 10_000_000, "ratio": Decimal("0.6")},
        {"ratio": Decimal("0.7")},
    ]
    assert "GBF2024-38" in p.sources()


@pytest.mark.parametrize(
    ("overlay", "path", "reason"),
    [
        (
            {"resident": {"incentives": {"continuous": {"amount": 800}}}},
            "resident.incentives.continuous.amount",
            "below the national floor 1000",
        ),
        (
            {"resident": {"incentives": {"zero_claim": {"amount": 999}}}},
            "resident.incentives.zero_claim.amount",
            "below the national floor 1000",
        ),
        (
            {"resident": {"waiting": {"fixed_months": 2}}},
            "resident.waiting.fixed_months",
            "below the national floor 3",
        ),
        (
            {"resident": {"contribution": {"fiscal_subsidy": {"2025-01-01": 690}}}},
            "resident.contribution.fiscal_subsidy",
            "below the national floor 700",
        ),
        (
            {"critical_illness": {"bands": [{"ratio": 0.5}]}},
            "critical_illness.bands[0].ratio",
            "below the national floor 0.60",
        ),
        (
            {"catalog": {"category_b_prepay_ratio": 0.3}},
            "catalog.category_b_prepay_ratio",
            "above the national ceiling 0.20",
        ),
    ],
)
def test_an_overlay_breaking_a_floor_is_refused_naming_the_parameter(
    overlay: dict[str, object], path: str, reason: str
) -> None:
    with pytest.raises(ParameterError) as err:
        Policy("000000", overlays=[overlay])
    assert err.value.path == path
    assert reason in err.value.reason
    assert err.value.file == "<policy overlay>"


def test_a_file_breaking_a_floor_is_named(folder: Path) -> None:
    write(
        folder,
        "100000",
        'region: "100000"\nparameters:\n  resident:\n    incentives:\n'
        "      zero_claim: {amount: 500}\n",
    )
    with pytest.raises(ParameterError) as err:
        Policy("100000", folder=folder)
    assert err.value.file.endswith("100000.yaml")
    assert "zero_claim.amount" in str(err.value)


@pytest.mark.parametrize(
    ("body", "path", "reason"),
    [
        ('region: "10000"\nparameters: {a: 1}\n', "region", "not a 6-digit"),
        ('region: "100000"\n', "parameters", "missing"),
        (
            'region: "100000"\nparameters: {large_amount: {cap: {value: 1, source: NOPE}}}\n',
            "large_amount.cap",
            "source 'NOPE' is not listed",
        ),
        (
            'region: "100000"\nparameters: {large_amount: {cap: {of: 3, ratio: 1}}}\n',
            "large_amount.cap",
            "'of' must name a parameter path",
        ),
        (
            'region: "100000"\nparameters: {large_amount: {ratio: [1, {x: 2024-01-01}]}}\n',
            "large_amount.ratio[1].x",
            "wrong type date",
        ),
        # values checked by what their names say they are (policy/values.py)
        (
            'region: "100000"\nparameters: {large_amount: {cap: -5}}\n',
            "large_amount.cap",
            "must not be negative (got -5)",
        ),
        (
            'region: "100000"\nparameters: {large_amount: {cap: 10.005}}\n',
            "large_amount.cap",
            "10.005 has more than two decimal places",
        ),
        (
            'region: "100000"\nparameters: {large_amount: {ratio: lots}}\n',
            "large_amount.ratio",
            "must be a number (a rate such as 0.75), not 'lots'",
        ),
        (
            'region: "100000"\nparameters: {large_amount: {ratio: 0.1234567}}\n',
            "large_amount.ratio",
            "0.1234567 has more than 6 decimal places",
        ),
        (
            'region: "100000"\nparameters: {large_amount: {ratio: 1.5}}\n',
            "large_amount.ratio",
            "1.5 is above 1",
        ),
        (
            'region: "100000"\nparameters: {large_amount: {ratio: .nan}}\n',
            "large_amount.ratio",
            "must be a finite number",
        ),
        (
            'region: "100000"\nparameters: {large_amount: {ratio: true}}\n',
            "large_amount.ratio",
            "must be a number",
        ),
        (
            'region: "100000"\nparameters: {large_amount: {cap: {2025-01-01: "400000"}}}\n',
            "large_amount.cap@2025-01-01",
            "must be a number (an amount in yuan)",
        ),
        (
            'region: "100000"\nparameters: {critical_illness: {bands: [{upto: 10, ratio: 7}, '
            "{ratio: 0.5}]}}\n",
            "critical_illness.bands[0].ratio",
            "7 is above 1",
        ),
        (
            'region: "100000"\nparameters: {critical_illness: {deductible: '
            "{of: economy.average_wage, ratio: -1}}}\n",
            "critical_illness.deductible.ratio",
            "must not be negative",
        ),
        (
            'region: "100000"\nparameters: {resident: {waiting: {fixed_months: -3}}}\n',
            "resident.waiting.fixed_months",
            "must not be negative",
        ),
        (
            'region: "100000"\nparameters: {benefits: {employee: {inpatient: {basic: '
            "{repeat_admission_factors: [1, 0.5, -1]}}}}}\n",
            "benefits.employee.inpatient.basic.repeat_admission_factors[2]",
            "must not be negative",
        ),
        # a cap group's annual cap is declared once, by its owner (inpatient for `basic`)
        (
            'region: "100000"\nparameters: {benefits: {employee: {chronic: {basic: '
            "{annual_cap: 5000}}}}}\n",
            "benefits.employee.chronic.basic.annual_cap",
            "chronic shares cap group 'basic', whose annual cap is declared once, as "
            "benefits.employee.inpatient.basic.annual_cap",
        ),
        (
            'region: "100000"\nparameters: {benefits: {retiree: {chronic: {basic: '
            "{annual_cap: 5000}}}}}\n",
            "benefits.retiree.chronic.basic.annual_cap",
            "set it there",
        ),
    ],
)
def test_bad_files_name_file_path_and_reason(
    folder: Path, body: str, path: str, reason: str
) -> None:
    write(folder, "100000", body)
    with pytest.raises(ParameterError) as err:
        Policy("100000", folder=folder)
    assert err.value.path == path
    assert reason in err.value.reason
    assert "100000.yaml" in err.value.file


def test_unknown_parameter_and_region() -> None:
    with pytest.raises(ParameterError, match="unknown parameter"):
        Policy("000000").get("benefits.nothing_here", D(2025, 1, 1))
    with pytest.raises(UnknownRegion):
        Policy("999999")


def test_shipped_regions() -> None:
    assert {"000000", "340000", "110000", "360000", "360100"} <= set(available_regions())


def _national_subsidies() -> dict[str, object]:
    doc = yaml.safe_load(
        (Path(__file__).parents[1] / "src/yibao/policy/regions/000000.yaml").read_text("utf-8")
    )
    dated = doc["parameters"]["resident"]["contribution"]["fiscal_subsidy"]
    return {str(d): (v["value"] if isinstance(v, dict) else v) for d, v in dated.items()}


_SUBSIDIES = _national_subsidies()


# A national floor holds from the date of the document that set it (floors.py, ``since``): an
# older value below it is history, one in force on or after that date is refused.
@pytest.mark.parametrize(
    "overlay",
    [
        # critical illness 50% before the 2019 notice raised the floor to 60% (RES2019), and 40%
        # before the 2015 opinions (GBF2015-57) set the first floor, 50%
        pytest.param(
            {
                "critical_illness": {
                    "bands": {
                        "2010-01-01": [{"ratio": 0.4}],
                        "2015-01-01": [{"ratio": 0.5}],
                        "2019-01-01": [{"ratio": 0.6}],
                    }
                }
            },
            id="critical-illness-ratio-history",
        ),
        # incentives and the fixed wait start in 2025 (GBF2024-38)
        pytest.param(
            {
                "resident": {
                    "incentives": {"zero_claim": {"amount": {"2024-01-01": 0, "2025-01-01": 1000}}}
                }
            },
            id="zero-claim-0-in-2024",
        ),
        pytest.param(
            {"resident": {"waiting": {"fixed_months": {"2023-01-01": 0, "2025-01-01": 3}}}},
            id="no-wait-in-2023",
        ),
        # a subsidy of 35 yuan before the 2007 pilot's date (GF2007-20, 2007-07-10), then the
        # national history
        pytest.param(
            {"resident": {"contribution": {"fiscal_subsidy": {"2006-01-01": 35, **_SUBSIDIES}}}},
            id="subsidy-35-before-the-pilot",
        ),
    ],
)
def test_a_value_before_its_floors_date_is_accepted(overlay: dict[str, object]) -> None:
    Policy("000000", overlays=[overlay])  # no error


@pytest.mark.parametrize(
    ("overlay", "path", "reason"),
    [
        # 55% dated 2018 is still in force when the 60% floor starts on 2019-01-01
        (
            {"critical_illness": {"bands": {"2018-01-01": [{"ratio": 0.55}]}}},
            "critical_illness.bands[0].ratio",
            "0.55 on 2019-01-01 is below the national floor 0.60 (RES2019)",
        ),
        # 50% on the floor's own date
        (
            {"critical_illness": {"bands": {"2019-01-01": [{"ratio": 0.5}]}}},
            "critical_illness.bands[0].ratio",
            "0.5 on 2019-01-01 is below the national floor 0.60 (RES2019)",
        ),
        # 45% after the 2015 opinions and before 2019: below that document's 50%
        (
            {"critical_illness": {"bands": {"2016-01-01": [{"ratio": 0.45}]}}},
            "critical_illness.bands[0].ratio",
            "0.45 on 2016-01-01 is below the national floor 0.50 (GBF2015-57)",
        ),
        # 35 yuan from 2007-01-01 is in force on the pilot's date, 2007-07-10
        (
            {"resident": {"contribution": {"fiscal_subsidy": {"2007-01-01": 35}}}},
            "resident.contribution.fiscal_subsidy",
            "35 on 2007-07-10 is below the national floor 40 (GF2007-20)",
        ),
        # the 2012 NCMS notice: 240 yuan
        (
            {"resident": {"contribution": {"fiscal_subsidy": {"2012-01-01": 230}}}},
            "resident.contribution.fiscal_subsidy",
            "230 on 2012-01-01 is below the national floor 240 (NCMS2012)",
        ),
        # a 2024 zero-claim amount of 0 still in force in 2025
        (
            {"resident": {"incentives": {"zero_claim": {"amount": {"2024-01-01": 0}}}}},
            "resident.incentives.zero_claim.amount",
            "0 on 2025-01-01 is below the national floor 1000 (GBF2024-38)",
        ),
    ],
)
def test_a_value_on_or_after_its_floors_date_is_refused(
    overlay: dict[str, object], path: str, reason: str
) -> None:
    with pytest.raises(ParameterError) as err:
        Policy("000000", overlays=[overlay])
    assert err.value.path == path
    assert reason in err.value.reason


def test_a_cap_group_cap_is_set_through_its_owner() -> None:
    """Setting the inpatient cap sets the cap of its group (chronic care shares it)."""
    p = Policy(
        "000000", overlays=[{"benefits": {"resident": {"inpatient": {"basic": {"annual_cap": 9}}}}}]
    )
    assert p.get("benefits.resident.inpatient.basic.annual_cap", D(2025, 1, 1)) == 900
    assert not p.declares("benefits.resident.chronic.basic.annual_cap", D(2025, 1, 1))
    # a member with a cap group of its own declares its own cap
    own = {"chronic": {"basic": {"cap_group": "chronic", "annual_cap": 5000}}}
    Policy("000000", overlays=[{"benefits": {"resident": own}}])


def test_the_parameters_begin_when_every_dated_value_has_begun(tmp_path: Path) -> None:
    write(tmp_path, "000000", 'region: "000000"\nparameters:\n  a: {2020-01-01: 1}\n'
          "  b: {2022-06-01: 2, 2023-01-01: 3}\n  c: 5\n")  # fmt: skip
    assert Policy("000000", folder=tmp_path).begins() == D(2022, 6, 1)  # b's first date
    # a region's earlier date or plain value for the same parameter moves the start earlier
    write(tmp_path, "100000", 'region: "100000"\nparameters:\n  a: {2019-01-01: 1}\n  b: 4\n')
    assert Policy("100000", folder=tmp_path).begins() == D(2019, 1, 1)  # a from 2019, b plain
    write(tmp_path, "100000", 'region: "100000"\nparameters:\n  b: 4\n  d: {2025-01-01: 1}\n')
    assert Policy("100000", folder=tmp_path).begins() == D(2025, 1, 1)
    # the shipped files: every parameter has a value on that day, not the day before
    p = Policy("000000")
    begins = p.begins()
    assert begins is not None
    paths = {path for layer in p.layers for path in layer.leaves}
    assert all(p.declares(path, begins) for path in paths)
    assert not all(p.declares(path, begins - dt.timedelta(days=1)) for path in paths)
