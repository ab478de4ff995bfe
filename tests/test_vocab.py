"""The one vocabulary (policy.vocab) and what derives from it: the kernel's indexes, the
store's CHECK constraints, the domain's enums."""

from __future__ import annotations

from yibao.domain.enrolment import EnrolmentKind, Scheme
from yibao.domain.registry import ASSISTANCE_CLASSES, GroupKind
from yibao.kernel.schema import OUTPUT_COLUMNS
from yibao.kernel.tables import AID_CLASSES, CROSS_REGIONS, MED_TYPES, SCHEME_INPUT, SCHEMES
from yibao.policy.vocab import (
    CLAIM_AMOUNTS,
    KERNEL_AMOUNTS,
    SETTLEMENT_AMOUNTS,
    SETTLEMENT_FIELDS,
    AidClass,
    BenefitScheme,
    InsuranceScheme,
    InsuredCategory,
    sql_in,
)
from yibao.store.models import CROSS_REGION_VALUES, GROUP_KINDS, MED_TYPE_VALUES


def test_the_three_scheme_sets_and_their_one_mapping() -> None:
    assert [c.benefits for c in InsuredCategory] == ["employee", "employee", "retiree", "resident"]
    assert [c.scheme for c in InsuredCategory] == ["employee", "employee", "employee", "resident"]
    assert SCHEMES == ("employee", "retiree", "resident") == tuple(BenefitScheme)
    assert SCHEME_INPUT == {"employee": 0, "flexible": 0, "retiree": 1, "resident": 2}
    assert Scheme is InsuranceScheme
    assert [k.scheme for k in EnrolmentKind] == ["employee", "employee", "employee", "resident"]
    assert [k.category for k in EnrolmentKind] == list(InsuredCategory)


def test_kernel_indexes_put_none_first() -> None:
    assert MED_TYPES == ("inpatient", "outpatient", "chronic", "maternity", "pharmacy")
    assert CROSS_REGIONS == ("none", "registered", "referred", "temporary")
    assert ("none", *AidClass) == AID_CLASSES
    assert {GroupKind(a) for a in AidClass} == ASSISTANCE_CLASSES


def test_store_checks_list_the_vocabulary() -> None:
    assert MED_TYPE_VALUES == "('inpatient', 'outpatient', 'chronic', 'maternity', 'pharmacy')"
    assert CROSS_REGION_VALUES == "('none', 'registered', 'referred', 'temporary')"
    assert sql_in(GroupKind) == GROUP_KINDS and "'demobilized'" in GROUP_KINDS
    assert sql_in((1, 2, 3)) == "(1, 2, 3)"


def test_one_list_of_settlement_amounts() -> None:
    assert (*CLAIM_AMOUNTS, *OUTPUT_COLUMNS) == SETTLEMENT_FIELDS
    assert OUTPUT_COLUMNS == KERNEL_AMOUNTS
    assert set(SETTLEMENT_AMOUNTS) == {*SETTLEMENT_FIELDS, "cross_prepay"}
    assert len(SETTLEMENT_AMOUNTS) == len(set(SETTLEMENT_AMOUNTS)) == 16
