"""Personal account (个人账户) and family mutual aid (家庭共济, rules.md §6 "Order of layers"):
the person's share after the funds (including fully self-paid items) is paid from the account
if the person allows it, then from a relative's linked account, limited by the balances over the
year's claims; the rest is cash (现金). A share below zero (the funds paid more than the claim's
total) is never taken from an account: it stays with cash."""

from __future__ import annotations

from yibao.kernel.jit import compiled
from yibao.kernel.segments import I64
from yibao.kernel.state import Slots


@compiled
def personal_account(
    state: I64, slots: Slots, p: int, share: int, use_account: bool, balance: int
) -> int:
    """What the person's own account pays of ``share`` (acct_pay)."""
    return _from_balance(state, slots.acct, p, share, balance if use_account else 0)


@compiled
def family_mutual_aid(state: I64, slots: Slots, p: int, share: int, linked_balance: int) -> int:
    """What the linked relative's account pays of ``share`` (acct_mulaid_pay): what is left
    after the person's own account."""
    if linked_balance <= 0:
        return 0
    return _from_balance(state, slots.mulaid, p, share, linked_balance)


@compiled
def _from_balance(state: I64, slot: int, p: int, share: int, balance: int) -> int:
    """A balance spent over the person's claims in order (a cap that never changes), as
    ``within_cap`` keeps it, paying nothing of a share below zero."""
    before = state[slot + 1, p]
    pay: int = max(min(share, max(balance - before, 0)), 0)
    state[slot, p] += share
    state[slot + 1, p] = before + pay
    return pay
