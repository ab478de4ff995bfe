"""``yibao calc settle``: one person's claims of one coverage year through the kernel."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from yibao.calc.lines import (
    DIGESTED,
    Bills,
    classify_bills,
    lines_out,
    person_traits,
    scenario_catalogue,
)
from yibao.calc.scenario import (
    ScenarioError,
    amount,
    check_begun,
    choice,
    date,
    load_policy,
    mapping,
)
from yibao.kernel.entitled import ALWAYS, entitled_days
from yibao.kernel.report import FUND_CODES, setl_detail
from yibao.kernel.settle import REASONS, Claims, Persons, State, settle_claims
from yibao.kernel.tables import (
    AID_CLASSES,
    COVERS_IN_SCOPE,
    COVERS_LISTED,
    DISEASE_UNCHECKED,
    MED_TYPES,
    SCALE,
    SCHEME_INPUT,
    Tables,
    compile_tables,
    disease_index,
    epoch_days,
    from_epoch_days,
    product_columns,
    scaled,
    without_caps,
)
from yibao.policy import Policy, fen_to_yuan
from yibao.policy.commercial import products
from yibao.policy.money import AmountError, year_room
from yibao.policy.vocab import CROSS_REGIONS, SETTLEMENT_FIELDS, AidClass, InsuredCategory
from yibao.rules.chronic import Certification, certified_disease
from yibao.rules.epidemics import exempt_amounts

OUTPUT_FIELDS = SETTLEMENT_FIELDS


def parse(doc: dict[str, Any]) -> tuple[Any, Claims, Persons, dict[str, Any]]:
    policy = load_policy(doc)
    person = mapping(doc, "person")
    scheme = choice(person.get("scheme"), "person.scheme", tuple(InsuredCategory))
    assert scheme is not None
    aid = choice(
        person.get("assistance_class"), "person.assistance_class", tuple(AidClass), nullable=True
    )
    use_account = person.get("use_account", True)
    if not isinstance(use_account, bool):
        raise ScenarioError("person.use_account", "must be true or false")
    entitled_from = person.get("entitled_from")
    claims = doc.get("claims")
    if not isinstance(claims, list) or not claims:
        raise ScenarioError("claims", "must be a non-empty list of claims")
    epidemic = doc.get("epidemic", False)
    if not isinstance(epidemic, bool):
        raise ScenarioError("epidemic", "must be true or false")
    rows: list[tuple[Any, ...]] = []
    year_total = 0  # the claims so far, for year_room
    bills = _bills(doc, policy.region, claims, person)
    for i, claim in enumerate(claims):
        f = f"claims[{i}]"
        on, level = _date_level(claim, f)
        med = choice(claim.get("med_type"), f"{f}.med_type", MED_TYPES)
        cross = choice(
            claim.get("cross_region"), f"{f}.cross_region", CROSS_REGIONS[1:], nullable=True
        )
        if bills is not None and claim.get("lines") is not None:
            sums = bills.sums
            total = int(sums.total[i])
            parts = {k: int(getattr(sums, k)[i]) for k in DIGESTED[1:]}
        else:
            total = amount(claim.get("total"), f"{f}.total")
            parts = {k: amount(claim.get(k), f"{f}.{k}", allow_none=True) for k in DIGESTED[1:]}
        if sum(parts.values()) > total:
            raise ScenarioError(f, "fully_self_paid + over_limit + category_b is larger than total")
        try:
            year_room(year_total, total, f"{f}.total")
        except AmountError as exc:
            raise ScenarioError(exc.field, exc.reason) from exc
        disease = claim.get("disease")
        if disease is not None and (not isinstance(disease, str) or not disease):
            raise ScenarioError(f"{f}.disease", "must be a disease code (门诊慢特病病种编码)")
        listed = amount(claim.get("listed_self_paid"), f"{f}.listed_self_paid", allow_none=True)
        if listed > parts["fully_self_paid"]:
            raise ScenarioError(f"{f}.listed_self_paid", "is larger than fully_self_paid")
        covered = claim.get("epidemic", epidemic)
        if not isinstance(covered, bool):
            raise ScenarioError(f"{f}.epidemic", "must be true or false")
        if covered:  # covered by a major epidemic (rules.epidemics): exempt amounts
            _, fsp, over, catb = exempt_amounts(
                total, parts["fully_self_paid"], parts["over_limit"], parts["category_b"]
            )
            parts = {"fully_self_paid": fsp, "over_limit": over, "category_b": catb}
            listed = 0
        rows.append((on, med, level, cross, total, parts, disease, listed, covered))
        year_total += total
    years = {r[0].year for r in rows}
    if len(years) > 1:
        raise ScenarioError("claims", f"claims span years {sorted(years)}; one coverage year only")
    for i, r in enumerate(rows):
        check_begun(policy, r[0], f"claims[{i}].date")
    begins = policy.begins()
    if begins is not None and dt.date(rows[0][0].year, 1, 1) < begins:  # compiled from 1 January
        raise ScenarioError(
            "claims[0].date",
            f"coverage year {rows[0][0].year} starts before the parameters of region "
            f"{policy.region} begin ({begins})",
        )
    if any(b[0] < a[0] for a, b in pairwise(rows)):
        raise ScenarioError("claims", "must be in date order")
    tables = compile_tables(policy, years.pop())
    certified = _certified(person, tables.chronic_codes)
    c = Claims(
        person=np.zeros(len(rows), dtype=np.int64),
        date=np.array([epoch_days(r[0]) for r in rows], dtype=np.int64),
        med_type=np.array([MED_TYPES.index(r[1]) for r in rows], dtype=np.int64),
        level=np.array([r[2] - 1 for r in rows], dtype=np.int64),
        cross_region=np.array([CROSS_REGIONS.index(r[3] or "none") for r in rows], dtype=np.int64),
        total=np.array([r[4] for r in rows], dtype=np.int64),
        fully_self_paid=np.array([r[5]["fully_self_paid"] for r in rows], dtype=np.int64),
        over_limit=np.array([r[5]["over_limit"] for r in rows], dtype=np.int64),
        category_b=np.array([r[5]["category_b"] for r in rows], dtype=np.int64),
        disease=np.array(
            [
                DISEASE_UNCHECKED
                if certified is None
                else disease_index(tables, certified_disease(certified, r[6], r[0]))
                for r in rows
            ],
            dtype=np.int64,
        ),
        listed_self_paid=np.array([r[7] for r in rows], dtype=np.int64),
    )
    product = _commercial(person, policy, rows[0][0].year)
    p = Persons(
        scheme=np.array([SCHEME_INPUT[scheme]], dtype=np.int64),
        aid_class=np.array([AID_CLASSES.index(aid or "none")], dtype=np.int64),
        account_balance=np.array(
            [amount(person.get("account_balance", 0), "person.account_balance")], dtype=np.int64
        ),
        use_account=np.array([use_account]),
        mutual_aid_balance=np.array(
            [amount(person.get("mutual_aid_balance", 0), "person.mutual_aid_balance")],
            dtype=np.int64,
        ),
        incentive_raise=np.array(
            [amount(person.get("incentive_raise", 0), "person.incentive_raise")], dtype=np.int64
        ),
        # no entitled_from: no waiting period (``kernel.entitled``)
        entitled_from=np.array(
            [
                entitled_days(
                    date(entitled_from, "person.entitled_from") if entitled_from else None,
                    if_none=ALWAYS,
                )
            ],
            dtype=np.int64,
        ),
        **{k: np.array([v], dtype=np.int64) for k, v in product.items()},
    )
    info = {
        "scheme": scheme,
        "aid": aid,
        "bills": bills,
        "commercial": product["com_cap"] > 0,
        "covered": np.array([r[8] for r in rows], dtype=np.bool_),
    }
    return tables, c, p, info


def settle_runs(
    tables: Tables, claims: Claims, persons: Persons, covered: npt.NDArray[np.bool_]
) -> dict[str, npt.NDArray[np.int64]]:
    """One person's claims through the kernel, those a major epidemic covers with its tables
    (``kernel.tables.without_caps``): each run of claims of equal coverage in one call, the
    year-to-date state carried from run to run, as the service settles them one by one (what a
    covered claim paid counts towards the caps of the year's later claims)."""
    edges = [0, *(i for i in range(1, len(covered)) if covered[i] != covered[i - 1]), len(covered)]
    parts: list[dict[str, npt.NDArray[np.int64]]] = []
    state: State | None = None
    for lo, hi in pairwise(edges):
        run = Claims(**{f.name: getattr(claims, f.name)[lo:hi] for f in fields(Claims)})
        result = settle_claims(without_caps(tables) if covered[lo] else tables, run, persons, state)
        parts.append(dict(result.columns))
        state = result.state
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


#: ``person.commercial.covers``: what a product may cover.
COVERS = {"in_scope": COVERS_IN_SCOPE, "listed": COVERS_LISTED}


def _commercial(person: dict[str, Any], policy: Policy, year: int) -> dict[str, int]:
    """``person.commercial``: the supplementary commercial product (惠民保) the person bought,
    ``{deductible, ratio, cap, covers}`` (yuan a year, a rate, yuan a year, a list of
    ``in_scope`` and ``listed``) or the code of one the region sells for the claims' year
    (``commercial.products``), as the kernel's person columns; none: all 0."""
    given = person.get("commercial")
    if given is None:
        return product_columns(None)
    if isinstance(given, str):
        sold = products(policy, year)
        if given not in sold:
            listed = ", ".join(sorted(sold)) or "none"
            raise ScenarioError(
                "person.commercial",
                f"{given!r} is not a product of region {policy.region} for {year} ({listed})",
            )
        return product_columns(sold[given])
    f = "person.commercial"
    if not isinstance(given, dict):
        raise ScenarioError(f, "must be a mapping {deductible, ratio, cap, covers} or a code")
    unknown = set(given) - {"deductible", "ratio", "cap", "covers"}
    if unknown:
        raise ScenarioError(f"{f}.{sorted(unknown)[0]}", "unknown field")
    cap = amount(given.get("cap"), f"{f}.cap")
    if cap <= 0:
        raise ScenarioError(f"{f}.cap", "must be above 0")
    ratio = given.get("ratio")
    try:
        if isinstance(ratio, bool) or not isinstance(ratio, int | float | str):
            raise ValueError
        scaled_ratio = scaled(ratio)
    except (ValueError, ArithmeticError):
        raise ScenarioError(f"{f}.ratio", "must be a rate between 0 and 1") from None
    if not 0 < scaled_ratio <= SCALE:
        raise ScenarioError(f"{f}.ratio", "must be a rate between 0 and 1")
    covers = given.get("covers", ["in_scope"])
    if not isinstance(covers, list) or not covers or any(c not in COVERS for c in covers):
        raise ScenarioError(f"{f}.covers", "must list in_scope and/or listed")
    bits = 0
    for c in covers:
        bits |= COVERS[c]
    return {
        "com_deductible": amount(given.get("deductible", 0), f"{f}.deductible"),
        "com_ratio": scaled_ratio,
        "com_cap": cap,
        "com_covers": bits,
    }


def _certified(person: dict[str, Any], codes: tuple[str, ...]) -> list[Certification] | None:
    """``person.certified_diseases``: the diseases (门诊慢特病) the person is certified for, each
    ``{disease, valid_from, valid_to}`` (dates default to any day). None when the scenario gives
    no list: chronic claims are then paid by the chronic benefit alone, unchecked."""
    given = person.get("certified_diseases")
    if given is None:
        return None
    if not isinstance(given, list):
        raise ScenarioError("person.certified_diseases", "must be a list of certified diseases")
    out = []
    for i, item in enumerate(given):
        f = f"person.certified_diseases[{i}]"
        if not isinstance(item, dict):
            raise ScenarioError(f, "must be a mapping {disease, valid_from, valid_to}")
        code = item.get("disease")
        if not isinstance(code, str) or not code:
            raise ScenarioError(f"{f}.disease", "a disease code is required")
        if code not in codes:
            raise ScenarioError(
                f"{f}.disease", f"{code!r} is not on the region's list of chronic diseases"
            )
        start = date(item["valid_from"], f"{f}.valid_from") if item.get("valid_from") else None
        end = date(item["valid_to"], f"{f}.valid_to") if item.get("valid_to") else None
        start, end = start or dt.date.min, end or dt.date.max
        if end < start:
            raise ScenarioError(f"{f}.valid_to", "is before valid_from")
        out.append(Certification(code, start, end))
    return out


def _date_level(claim: Any, f: str) -> tuple[dt.date, int]:
    if not isinstance(claim, dict):
        raise ScenarioError(f, "must be a mapping")
    on = date(claim.get("date"), f"{f}.date")
    level = claim.get("level")
    if level not in (1, 2, 3) or isinstance(level, bool):
        raise ScenarioError(
            f"{f}.level", f"unknown institution level {level!r}; expected 1, 2 or 3"
        )
    return on, int(level)


def _bills(
    doc: dict[str, Any], region: str, claims: list[Any], person: dict[str, Any]
) -> Bills | None:
    """The claims' lines classified (None when no claim has lines)."""
    if not any(isinstance(c, dict) and c.get("lines") is not None for c in claims):
        return None
    dates, levels = zip(
        *(_date_level(c, f"claims[{i}]") for i, c in enumerate(claims)), strict=True
    )
    sex, born = person_traits(person)
    table = scenario_catalogue(doc, region)
    return classify_bills(table, claims, list(dates), list(levels), sex, born)


def settle_scenario(doc: dict[str, Any]) -> dict[str, Any]:
    tables, claims, persons, info = parse(doc)
    doc_claims = doc["claims"]
    col = settle_runs(tables, claims, persons, info["covered"])
    col = {
        **col,
        "medfee_sumamt": claims.total,
        "fulamt_ownpay_amt": claims.fully_self_paid,
        "overlmt_selfpay": claims.over_limit,
    }
    out = []
    for i in range(len(claims)):
        row: dict[str, Any] = {f: fen_to_yuan(int(col[f][i])) for f in OUTPUT_FIELDS}
        if info["commercial"]:  # the insurer's part: total = funds + this + account + cash
            row["commercial_pay"] = fen_to_yuan(int(col["commercial_pay"][i]))
        row["setl_time"] = from_epoch_days(claims.date[i])
        row["setl_time"] = row["setl_time"].isoformat()
        row["med_type"] = MED_TYPES[int(claims.med_type[i])]
        row["admission_no"] = int(col["admission_no"][i])
        row["setldetail"] = setl_detail(
            col, i, info["scheme"], tables.n_tiers, bool(persons.aid_class[0])
        )
        flags = int(col["reasons"][i])
        row["reasons"] = [text for bit, text in REASONS.items() if flags & bit]
        if info["bills"] is not None and doc_claims[i].get("lines") is not None:
            row["lines"] = lines_out(info["bills"], i)
        out.append(row)
    return {"settlements": out}


__all__ = ["FUND_CODES", "OUTPUT_FIELDS", "parse", "settle_scenario"]
