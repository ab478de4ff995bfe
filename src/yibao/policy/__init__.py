"""Policy parameters (政策参数): dated, per-region values with sources and national floors."""

from yibao.policy.errors import ParameterError, UnknownRegion
from yibao.policy.params import NATIONAL, Policy, available_regions, fen_to_yuan, yuan_to_fen

__all__ = [
    "NATIONAL",
    "ParameterError",
    "Policy",
    "UnknownRegion",
    "available_regions",
    "fen_to_yuan",
    "yuan_to_fen",
]
