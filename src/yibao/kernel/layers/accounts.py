"""Personal account (个人账户) and family mutual aid (家庭共济, rules.md §6 "Order of layers"):
the person's share after the funds (including fully self-paid items) is paid from the account
if the person allows it, then from a relative's linked account, limited by the balances over the
batch; the rest is cash (现金)."""

from __future__ import annotations

import numpy as np

from yibao.kernel.columns import Persons
from yibao.kernel.layers.common import Context, clamp_to_cap
from yibao.kernel.segments import I64


def personal_account(ctx: Context, share: I64, persons: Persons) -> I64:
    """What the person's own account pays of ``share`` (acct_pay)."""
    balance = ctx.spread(np.where(persons.use_account, persons.account_balance, 0))
    return _from_balance(ctx, share, balance, "acct")


def family_mutual_aid(ctx: Context, share: I64, persons: Persons) -> I64:
    """What the linked relative's account pays of ``share`` (acct_mulaid_pay): what is left
    after the person's own account."""
    linked = ctx.spread(persons.mutual_aid_balance)
    return _from_balance(ctx, share, linked, "mulaid", only_linked=True)


def _from_balance(
    ctx: Context, share: I64, balance: I64, key: str, only_linked: bool = False
) -> I64:
    """A balance spent over the person's claims in order (a cap that never changes)."""
    member = balance > 0 if only_linked else None
    paid, _ = clamp_to_cap(
        ctx.segs, share, member, balance, ctx.state, key, ctx.n_persons, steady=True
    )
    return paid
