"""The vocabulary: the words the parameters, the kernel, the domain and the store share.

Defined once here (``policy`` imports nothing else of the project): the kernel's indexes
(``kernel.tables``), the store's CHECK constraints (``store.models``) and the tests derive from
these. Three different sets have been called "scheme"; each has its own name here:

- ``InsuranceScheme`` (险种): the scheme a person is enrolled in, employee or resident;
- ``InsuredCategory`` (参保人员类别): how a person is insured, as a settlement input names it
  (employee, flexible, retiree, resident: the calculator's and the Arrow input's ``scheme``);
- ``BenefitScheme`` (待遇类别): whose benefit parameters apply, ``benefits.<scheme>`` in the
  parameter tree and the kernel's scheme axis (employee, retiree, resident).

``InsuredCategory.benefits`` and ``InsuredCategory.scheme`` are the one mapping between them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class InsuranceScheme(StrEnum):
    """险种: the scheme of an enrolment."""

    EMPLOYEE = "employee"  # 职工医保 (in-service, flexible workers, retirees)
    RESIDENT = "resident"  # 城乡居民医保


class BenefitScheme(StrEnum):
    """待遇类别: whose benefits apply (``benefits.<scheme>``); the kernel's scheme axis."""

    EMPLOYEE = "employee"
    RETIREE = "retiree"  # employees' benefits with the retirees' own entries over them
    RESIDENT = "resident"


class InsuredCategory(StrEnum):
    """参保人员类别: how a person is insured, as settlement inputs name it."""

    EMPLOYEE = "employee"  # in service, enrolled by an employer
    FLEXIBLE = "flexible"  # 灵活就业人员
    RETIREE = "retiree"  # 退休人员
    RESIDENT = "resident"  # 城乡居民

    @property
    def benefits(self) -> BenefitScheme:
        """The benefits the category is paid (flexible workers are paid as employees)."""
        return _BENEFITS[self]

    @property
    def scheme(self) -> InsuranceScheme:
        """The scheme the category is enrolled in."""
        resident = self is InsuredCategory.RESIDENT
        return InsuranceScheme.RESIDENT if resident else InsuranceScheme.EMPLOYEE


_BENEFITS = {
    InsuredCategory.EMPLOYEE: BenefitScheme.EMPLOYEE,
    InsuredCategory.FLEXIBLE: BenefitScheme.EMPLOYEE,
    InsuredCategory.RETIREE: BenefitScheme.RETIREE,
    InsuredCategory.RESIDENT: BenefitScheme.RESIDENT,
}


class MedType(StrEnum):
    """医疗类别, in the order that decides a cap group's owner (``policy.benefits``)."""

    INPATIENT = "inpatient"  # 住院
    OUTPATIENT = "outpatient"  # 普通门诊
    CHRONIC = "chronic"  # 门诊慢特病
    MATERNITY = "maternity"  # 生育
    PHARMACY = "pharmacy"  # 定点药店购药


class CrossRegion(StrEnum):
    """异地就医: where a claim was treated, relative to the insured area (``none``: at home)."""

    NONE = "none"
    REGISTERED = "registered"  # 异地长期居住或常驻, registered (备案)
    REFERRED = "referred"  # 转诊转院
    TEMPORARY = "temporary"  # 临时外出就医


class GroupKind(StrEnum):
    """特殊人群: the kinds of special group a person may belong to (一人一档)."""

    NEWBORN = "newborn"
    TEKUN = "tekun"  # 特困 extreme poverty
    DIBAO = "dibao"  # 低保 subsistence allowance
    LOW_INCOME_EDGE = "low_income_edge"  # 低保边缘
    MONITORED = "monitored"  # 防返贫监测
    ILL_POOR = "ill_poor"  # 因病致贫
    STUDENT = "student"
    DEMOBILIZED = "demobilized"  # 退役军人


class AidClass(StrEnum):
    """医疗救助对象类别: the special groups that are medical-assistance recipient classes."""

    TEKUN = "tekun"
    DIBAO = "dibao"
    LOW_INCOME_EDGE = "low_income_edge"
    MONITORED = "monitored"
    ILL_POOR = "ill_poor"


class FundWarning(StrEnum):
    """基金运行风险预警: the level of a fund's accumulated balance in months of spending
    (``rules.funds.warning_level``), lowest first."""

    CRITICAL = "critical"  # below funds.warning.balance_months.critical
    LOW = "low"  # below .low
    NORMAL = "normal"
    SURPLUS = "surplus"  # above .high: an idle surplus (结余过多)


class FundRisk(StrEnum):
    """A fund's risk warning (基金运行风险预警), evaluated month by month: the reserve months'
    levels of back-office.md §2 (below critical, below low, above high), this year's deficit
    (当期赤字: expenditure above income so far) and spending growing faster than income
    (支出增速快于收入增速, against the same months of last year)."""

    RESERVE_CRITICAL = "reserve_critical"
    RESERVE_LOW = "reserve_low"
    RESERVE_SURPLUS = "reserve_surplus"
    DEFICIT = "deficit"
    SPENDING_GROWTH = "spending_growth"


#: Institution levels (医疗机构等级): 1 primary, 2 secondary, 3 tertiary.
LEVELS = (1, 2, 3)
#: The values of the enums above as plain tuples, in order (for ``in`` and messages).
MED_TYPES: tuple[str, ...] = tuple(m.value for m in MedType)
CROSS_REGIONS: tuple[str, ...] = tuple(c.value for c in CrossRegion)

#: A claim's own amounts (fen), as the national platform names them: total, fully self-paid,
#: over the price limit.
CLAIM_AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay")
#: The kernel's amount outputs (fen), in answer order: policy scope, the funds, the person.
KERNEL_AMOUNTS = (
    "preselfpay_amt",  # 乙类先行自付
    "inscp_scp_amt",  # 政策范围内费用
    "act_pay_dedc",  # 起付线
    "hifp_pay",  # 基本统筹
    "hifmi_pay",  # 大病保险
    "hifob_pay",  # 大额医疗费用补助
    "maf_pay",  # 医疗救助
    "fund_pay_sumamt",  # 基金支付合计
    "psn_part_amt",  # 个人负担
    "acct_pay",  # 个人账户
    "acct_mulaid_pay",  # 家庭共济
    "psn_cash_pay",  # 现金
)
#: A settlement's answer (the calculator, the API): the claim's amounts, then the kernel's.
SETTLEMENT_FIELDS = (*CLAIM_AMOUNTS, *KERNEL_AMOUNTS)
#: Every amount a stored settlement keeps (its columns, in order): the answer's fields and the
#: cross-region pre-payment (异地先行自付) after the policy scope amount.
SETTLEMENT_AMOUNTS = (
    *CLAIM_AMOUNTS,
    *KERNEL_AMOUNTS[:2],
    "cross_prepay",
    *KERNEL_AMOUNTS[2:],
)


def sql_in(values: Iterable[str | int]) -> str:
    """``('a', 'b')``: the values as an SQL list for a CHECK constraint."""
    items = [str(v) if isinstance(v, int) else f"'{v}'" for v in values]
    return f"({', '.join(items)})"
