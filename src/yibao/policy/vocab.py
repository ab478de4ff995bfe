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


class ChronicClass(StrEnum):
    """How a listed chronic or special disease (门诊慢特病) is paid (``chronic_diseases``)."""

    CHRONIC = "chronic"  # 门诊慢性病: the chronic benefit's ratios
    INPATIENT = "inpatient"  # 门诊特殊病: paid like inpatient care (the inpatient ratio by level)


class InstitutionKind(StrEnum):
    """定点医药机构类别: what kind of designated institution settles a claim. Hospitals (and
    clinics) are paid at the level they are registered at; the others by their own benefit rules,
    ``institutions.<kind>`` in the parameters (``rules.institutions``)."""

    HOSPITAL = "hospital"  # 定点医疗机构 (医院, 卫生院, 诊所), levels 1-3
    VILLAGE_CLINIC = "village_clinic"  # 村卫生室: general outpatient pooling at primary care
    PHARMACY = "pharmacy"  # 定点零售药店: personal account, outpatient pooling for listed drugs


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
INSTITUTION_KINDS: tuple[str, ...] = tuple(k.value for k in InstitutionKind)

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


class ItemKind(StrEnum):
    """医保目录: the three lists of the catalogue, by national code format."""

    DRUG = "drug"  # 药品 (西药 X…, 中成药 Z…, 中药饮片 T…)
    CONSUMABLE = "consumable"  # 医用耗材 (C…)
    SERVICE = "service"  # 医疗服务项目


class ItemClass(StrEnum):
    """收费项目等级 (chrgitm_lv): class A is fully in scope, class B in scope after the patient's
    category-B pre-payment, class C (and anything outside the catalogue) fully self-paid."""

    A = "A"  # 甲类, national code 01
    B = "B"  # 乙类, 02
    C = "C"  # 丙类 / 自费, 03


#: The national platform's chrgitm_lv code of each item class.
ITEM_CLASS_CODES = {ItemClass.A: "01", ItemClass.B: "02", ItemClass.C: "03"}


class LineReason(StrEnum):
    """Why a fee detail line was (or was not) in policy scope: the line's most significant cause,
    in the order of precedence (a restriction first, then the class, then the limits)."""

    SEX = "sex"  # 限性别: the item is restricted to the other sex; fully self-paid
    AGE = "age"  # 限年龄: the patient's age is outside the item's range; fully self-paid
    LEVEL = "level"  # 限医疗机构级别: not paid at an institution of this level; fully self-paid
    INDICATION = "indication"  # 限适应症: restricted and the hospital did not approve; self-paid
    CLASS_C = "class_c"  # 丙类: fully self-paid
    DAY_QUANTITY = "day_quantity"  # 超日限量: the quantity above the daily maximum is self-paid
    STAY_QUANTITY = "stay_quantity"  # 超单次住院限量: the quantity above the per-stay maximum
    PRICE_LIMIT = "price_limit"  # 超限价: the price above the limit is self-paid
    CLASS_B = "class_b"  # 乙类: in scope after the category-B pre-payment
    CLASS_A = "class_a"  # 甲类: fully in scope


#: A short text of each line reason, as the calculator and the API answer it beside the code.
LINE_REASON_TEXTS: dict[LineReason, str] = {
    LineReason.SEX: "限性别: the item is restricted to the other sex; fully self-paid",
    LineReason.AGE: "限年龄: the patient's age is outside the item's range; fully self-paid",
    LineReason.LEVEL: "限医疗机构级别: not paid at an institution of this level; fully self-paid",
    LineReason.INDICATION: "限适应症: restricted and not approved by the hospital; fully self-paid",
    LineReason.CLASS_C: "丙类: outside the catalogue's paid classes; fully self-paid",
    LineReason.DAY_QUANTITY: "超日限量: the quantity above the daily maximum is self-paid",
    LineReason.STAY_QUANTITY: "超单次住院限量: the quantity above the per-stay maximum; self-paid",
    LineReason.PRICE_LIMIT: "超限价: the price above the limit is self-paid",
    LineReason.CLASS_B: "乙类: in scope after the category-B pre-payment",
    LineReason.CLASS_A: "甲类: fully in scope",
}

#: A classified line's amounts (fen), as the calculator and the API answer them:
#: amount = fully_self_paid + over_limit + in_scope; category_b ≤ in_scope.
LINE_AMOUNTS = ("amount", "fully_self_paid", "over_limit", "in_scope", "category_b")


class DischargeWay(StrEnum):
    """离院方式 (dscg_way): how a patient left hospital, as the national codes."""

    ORDERED = "1"  # 医嘱离院
    TRANSFERRED = "2"  # 医嘱转院
    TO_COMMUNITY = "3"  # 医嘱转社区卫生服务机构/乡镇卫生院
    AGAINST_ADVICE = "4"  # 非医嘱离院
    DIED = "5"  # 死亡
    OTHER = "9"  # 其他


class FeeLineStatus(StrEnum):
    """A stored fee detail line: live, or cancelled (2205)."""

    LIVE = "live"
    CANCELLED = "cancelled"


class SupervisionRule(StrEnum):
    """智能监控: the rules the system ships (back-office.md §4, rules.md §9), as their codes in
    the rule catalogue (``supervision.rules.<code>`` in the region files)."""

    DUPLICATE_ITEM = "duplicate_item"  # 重复收费: the same item billed twice on one day
    OVER_QUANTITY = "over_quantity"  # 超限量: quantity over the catalogue's daily/per-stay maximum
    SEX_AGE = "sex_age"  # 限性别/限年龄: an item restricted by sex or age
    SPLIT_ADMISSION = "split_admission"  # 分解住院: readmission for the same principal diagnosis
    LONG_STAY = "long_stay"  # 超长住院: a stay longer than its diagnosis group's limit
    DEAD_OR_UNINSURED = "dead_or_uninsured"  # 死亡/未参保结算: after death or outside cover
    ABOVE_LEVEL = "above_level"  # 超医疗机构级别: an item above the institution's level
    VISIT_FREQUENCY = "visit_frequency"  # 就诊频次异常: implausibly many visits in a period


class RuleAction(StrEnum):
    """What a supervision rule does when it fires, per region and date (the rule catalogue)."""

    WARN = "warn"  # answered as a warning at pre-settlement (2206) and settlement (2207)
    REFUSE = "refuse"  # warns at 2206, refuses the settlement at 2207 (nothing is stored)
    REVIEW = "review"  # after the fact only: the yearly batch run makes findings
    OFF = "off"  # switched off


class Severity(StrEnum):
    """A supervision rule's severity (the weight of its findings in an institution's score)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class FindingStatus(StrEnum):
    """A supervision finding's state: open → confirmed (with a recovery amount) → recovered,
    or open/confirmed → dismissed (with a reason)."""

    OPEN = "open"
    CONFIRMED = "confirmed"
    RECOVERED = "recovered"
    DISMISSED = "dismissed"
