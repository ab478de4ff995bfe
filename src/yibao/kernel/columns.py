"""The kernel's batch: claim columns, person rows, and the result (all int64 fen or codes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from yibao.kernel.segments import I64, B
from yibao.kernel.state import Rows, State


@dataclass
class Claims:
    """Claim columns, sorted by (person, date); ``person`` is the segment key."""

    person: I64
    date: I64  # days since 1970-01-01
    med_type: I64  # index into MED_TYPES
    level: I64  # 0..2 for levels 1..3
    cross_region: I64  # index into CROSS_REGIONS
    total: I64
    fully_self_paid: I64
    over_limit: I64
    category_b: I64
    #: the certified chronic disease (门诊慢特病) of a chronic claim: its index on
    #: ``Tables.chronic_codes``, -1 none certified, -2 not looked up (``kernel.layers.chronic``)
    disease: I64
    #: the claim's self-paid items on the list of the person's commercial product (惠民保)
    listed_self_paid: I64

    def __len__(self) -> int:
        return len(self.person)


@dataclass
class Persons:
    """One row per segment, in segment order."""

    scheme: I64  # index into SCHEMES (the benefit scheme)
    aid_class: I64  # index into AID_CLASSES (0: none)
    account_balance: I64
    use_account: B
    mutual_aid_balance: I64
    incentive_raise: I64
    entitled_from: I64  # days since epoch; claims before it are self-paid
    # the supplementary commercial product (惠民保) the person bought for the year (cap 0: none):
    com_deductible: I64  # fen a year
    com_ratio: I64  # scaled by SCALE
    com_cap: I64  # fen a year
    com_covers: I64  # kernel.layers.commercial.COVERS_IN_SCOPE | COVERS_LISTED


#: The claims' and the persons' fields in order: the one-array form of one claim per person
#: (``kernel.online.Request.row``, ``single_pass.settle_each``): each claim field over the claims,
#: then each person field over the persons.
CLAIM_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Claims))
PERSON_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Persons))
ROW_FIELDS: tuple[str, ...] = CLAIM_FIELDS + PERSON_FIELDS


@dataclass(slots=True)
class Result:
    """Output columns (fen) in claim order, and the persons' new state."""

    columns: Mapping[str, I64]
    state: State


__all__ = [
    "CLAIM_FIELDS",
    "I64",
    "PERSON_FIELDS",
    "ROW_FIELDS",
    "B",
    "Claims",
    "Persons",
    "Result",
    "Rows",
]
