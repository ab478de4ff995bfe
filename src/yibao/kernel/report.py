"""How a settlement is reported: the national fund type codes and one ``setldetail`` row per
fund layer and tier, from the kernel's output columns (used by the calculator, the service and
the API alike)."""

from __future__ import annotations

import numpy as np

from yibao.policy import fen_to_yuan
from yibao.policy.codesets import to_national


def _fund(layer: str, name: str) -> tuple[str, str]:
    """The layer's national fund type code, from the one code set (``policy.codesets``)."""
    code = to_national("fund_pay_type", layer)
    assert code is not None, layer
    return code, name


#: National fund type codes (基金支付类型) of the layers (policy/codes/national.yaml).
FUND_CODES = {
    "basic_employee": _fund("basic_employee", "employee basic pooling fund"),
    "basic_resident": _fund("basic_resident", "resident basic pooling fund"),
    "critical_illness": _fund("critical_illness", "resident critical illness insurance"),
    "large_amount": _fund("large_amount", "employee large-amount medical expense subsidy"),
    "assistance": _fund("assistance", "medical assistance fund"),
}


def setl_detail(
    col: dict[str, np.ndarray], i: int, scheme: str, n_tiers: int, aid_recipient: bool
) -> list[dict[str, str]]:
    """The layers of claim ``i``, amounts in yuan (``detail_fen``)."""
    y = fen_to_yuan
    return [
        {"fund_pay_type": code, "fund_name": name, "base": y(base), "fund_payamt": y(paid),
         "text": text}
        for code, name, base, paid, text in detail_fen(col, i, scheme, n_tiers, aid_recipient)
    ]  # fmt: skip


def detail_fen(
    col: dict[str, np.ndarray], i: int, scheme: str, n_tiers: int, aid_recipient: bool
) -> list[tuple[str, str, int, int, str]]:
    """The layers of claim ``i`` as (fund type code, fund name, base, payment, text), fen. An
    aid recipient's claim lists every assistance tier (zero where the kernel computed none),
    anyone else's none: a claim reads the same whoever else was settled with it (the kernel
    computes the assistance columns only for a batch with an entitled recipient in it)."""
    y = fen_to_yuan
    rows = []
    basic = "basic_resident" if scheme == "resident" else "basic_employee"
    code, name = FUND_CODES[basic]
    base = int(col["inscp_scp_amt"][i] - col["cross_prepay"][i])
    paid = int(col["hifp_pay"][i])
    rows.append(
        (
            code,
            name,
            base,
            paid,
            f"policy scope {y(int(col['inscp_scp_amt'][i]))}"
            f" - cross-region pre-payment {y(int(col['cross_prepay'][i]))}"
            f" - deductible {y(int(col['act_pay_dedc'][i]))}; ratio schedule gives"
            f" {y(int(col['basic_raw'][i]))}, paid {y(paid)}"
            " within the annual cap",
        )
    )
    if scheme == "resident":
        code, name = FUND_CODES["critical_illness"]
        rows.append(
            (
                code,
                name,
                int(col["ci_base"][i]),
                int(col["hifmi_pay"][i]),
                "still owed within policy scope after the basic fund, accumulated over the"
                " year above the critical illness deductible, by its bands, within its cap",
            )
        )
    else:
        code, name = FUND_CODES["large_amount"]
        rows.append(
            (
                code,
                name,
                int(col["la_base"][i]),
                int(col["hifob_pay"][i]),
                "policy-scope cost beyond the point where the basic fund reached its cap,"
                " at the large-amount ratio, within its cap",
            )
        )
    for t in range(n_tiers if aid_recipient else 0):
        code, name = FUND_CODES["assistance"]
        tier_paid = col.get(f"maf_pay:{t}")
        tier_base = col.get(f"ma_base:{t}")
        rows.append(
            (
                code,
                f"{name}, tier {t + 1}",
                int(tier_base[i]) if tier_base is not None else 0,
                int(tier_paid[i]) if tier_paid is not None else 0,
                f"tier {t + 1}: still owed within policy scope, above the tier's annual"
                " deductible, at its ratio, within its annual limit",
            )
        )
    return rows
