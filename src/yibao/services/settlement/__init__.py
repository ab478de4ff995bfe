"""Settlement use cases (一站式结算), by step; see ``settle``."""

from yibao.services.settlement.settle import *  # noqa: F403
