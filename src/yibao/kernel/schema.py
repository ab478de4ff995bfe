"""Column contract of the settlement kernel's Arrow input (claims, persons) and output.

Claims (one row per claim, any order; the kernel sorts by psn_no, date):
  psn_no int64, date date32, med_type string (inpatient|outpatient|chronic|maternity|pharmacy),
  level int8 (1..3), cross_region string nullable (registered|referred|temporary),
  total int64, fully_self_paid int64, over_limit int64, category_b int64   -- all fen

Persons (one row per person appearing in the claims):
  psn_no int64, scheme string (InsuredCategory: employee|flexible|retiree|resident),
  assistance_class string nullable (AidClass: tekun|dibao|low_income_edge|monitored|ill_poor),
  account_balance int64 fen, use_account bool, mutual_aid_balance int64 fen,
  incentive_raise int64 fen, entitled_from date32 nullable (claims before it are self-paid:
  waiting period)

Output: the claims in (psn_no, date) order plus int64 fen columns named as the national platform
names them (see OUTPUT_COLUMNS). The names of schemes, med types, cross-region kinds and aid
classes are those of ``yibao.policy.vocab``.
"""

from yibao.policy.vocab import KERNEL_AMOUNTS, SETTLEMENT_FIELDS

CLAIM_COLUMNS = (
    "psn_no",
    "date",
    "med_type",
    "level",
    "cross_region",
    "total",
    "fully_self_paid",
    "over_limit",
    "category_b",
)
PERSON_COLUMNS = (
    "psn_no",
    "scheme",
    "assistance_class",
    "account_balance",
    "use_account",
    "mutual_aid_balance",
    "incentive_raise",
    "entitled_from",
)
#: The input columns that may hold nulls; every other one of the kernel's columns never does.
NULLABLE = frozenset({"cross_region", "assistance_class", "entitled_from"})
#: The kernel's amount columns (``policy.vocab.KERNEL_AMOUNTS``).
OUTPUT_COLUMNS = KERNEL_AMOUNTS
__all__ = [
    "CLAIM_COLUMNS",
    "NULLABLE",
    "OUTPUT_COLUMNS",
    "PERSON_COLUMNS",
    "SETTLEMENT_FIELDS",
]
