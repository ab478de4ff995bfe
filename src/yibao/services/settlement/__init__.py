"""Settlement use cases (一站式结算, 2201/2202/2206/2207/2208), one module per step:

- ``visits``: register (2201) and cancel (2202) a visit;
- ``claims``: a claim from a mapping, a claim with its request id, the checks before reading;
- ``compute``: the kernel adapter (a claim made ready for the kernel from the person's file,
  settled once per parameter table, read back as a typed ``SettlementAnswer``);
- ``settle``: pre-settle (2206), settle one claim or many in one transaction, in rounds;
- ``write``: a round's visits, balanced ledger transactions, settlements and states;
- ``answer``: the answer's JSON, written once and read back typed;
- ``reverse``: reversal (2208);
- ``queries``: a stored settlement and a person's year-to-date state.

Every amount is computed by the settlement kernel (``yibao.kernel.online.settle_many``, once
per batch of claims) from what the store holds, read for the whole batch at once
(``services.person_file``): entitlement and waiting period from the enrolment and coverage
history (``yibao.rules.waiting``), the critical-illness incentive raise from the coverage years
(``yibao.rules.incentives``), the personal account balance from the ledger, the family
mutual-aid balance through an authorised link, and the person's year-to-date state.

A batch of settlements is one database transaction: the visits (if not registered before), the
settlements with their layers, one balanced ledger transaction each and the moved year-to-date
states. The persons' state rows are locked first, in (person, year) order, so two settlements
of one person run one after the other and cannot spend the same remaining cap or account
balance. A refused claim changes nothing and does not stop the others.

Reversal posts the exact negation of the settlement's transaction and takes the settlement's
stored state delta out of the year-to-date state, each capped layer's running total reset to
what it paid (``kernel.settle.reversed_state``, see ``docs/store.md``).
"""

from yibao.services.settlement.claims import ClaimRequest, Outcome, claim_from_mapping
from yibao.services.settlement.common import not_after_today
from yibao.services.settlement.compute import tables_for, warm_kernel
from yibao.services.settlement.queries import (
    SettlementOnRecord,
    YearState,
    settlement_of,
    settlement_on_record,
    year_to_date,
)
from yibao.services.settlement.reverse import reverse, reverse_within
from yibao.services.settlement.settle import Batch, presettle, settle, settle_many, settle_within
from yibao.services.settlement.visits import (
    Registration,
    cancel_visit,
    register_visit,
    register_visits,
)

__all__ = [
    "Batch",
    "ClaimRequest",
    "Outcome",
    "Registration",
    "SettlementOnRecord",
    "YearState",
    "cancel_visit",
    "claim_from_mapping",
    "not_after_today",
    "presettle",
    "register_visit",
    "register_visits",
    "reverse",
    "reverse_within",
    "settle",
    "settle_many",
    "settle_within",
    "settlement_of",
    "settlement_on_record",
    "tables_for",
    "warm_kernel",
    "year_to_date",
]
