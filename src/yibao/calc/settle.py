"""``yibao calc settle``: one person's claims of one coverage year through the kernel."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from typing import Any

import numpy as np

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
from yibao.kernel.settle import REASONS, Claims, Persons, settle_claims
from yibao.kernel.tables import (
    AID_CLASSES,
    MED_TYPES,
    SCHEME_INPUT,
    compile_tables,
    epoch_days,
    from_epoch_days,
    without_annual_caps,
)
from yibao.policy import fen_to_yuan
from yibao.policy.money import AmountError, year_room
from yibao.policy.vocab import CROSS_REGIONS, SETTLEMENT_FIELDS, AidClass, InsuredCategory
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
        rows.append((on, med, level, cross, total, parts))
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
    )
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
    )
    info = {"scheme": scheme, "aid": aid, "bills": bills}
    tables = compile_tables(policy, years.pop())
    epidemic = doc.get("epidemic", False)
    if not isinstance(epidemic, bool):
        raise ScenarioError("epidemic", "must be true or false")
    if epidemic:  # every claim covered by a major epidemic (rules.epidemics)
        for i in range(len(c)):
            _, fsp, over, catb = exempt_amounts(
                int(c.total[i]), int(c.fully_self_paid[i]), int(c.over_limit[i]),
                int(c.category_b[i]),
            )  # fmt: skip
            c.fully_self_paid[i], c.over_limit[i], c.category_b[i] = fsp, over, catb
        tables = without_annual_caps(tables)
    return tables, c, p, info


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
    col = settle_claims(tables, claims, persons).columns
    col = {
        **col,
        "medfee_sumamt": claims.total,
        "fulamt_ownpay_amt": claims.fully_self_paid,
        "overlmt_selfpay": claims.over_limit,
    }
    out = []
    for i in range(len(claims)):
        row: dict[str, Any] = {f: fen_to_yuan(int(col[f][i])) for f in OUTPUT_FIELDS}
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
