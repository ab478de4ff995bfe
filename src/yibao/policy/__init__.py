"""Policy parameters (政策参数): dated, per-region values with sources and national floors."""

from yibao.policy.errors import ParameterError, UnknownRegion
from yibao.policy.params import (
    NATIONAL,
    POLICY_DIR_ENV,
    Policy,
    available_regions,
    check_policy_dir,
    fen_to_yuan,
    policy_dir,
    set_policy_dir,
    use_policy_dir,
    yuan_to_fen,
)

__all__ = [
    "NATIONAL",
    "POLICY_DIR_ENV",
    "ParameterError",
    "Policy",
    "UnknownRegion",
    "available_regions",
    "check_policy_dir",
    "fen_to_yuan",
    "policy_dir",
    "set_policy_dir",
    "use_policy_dir",
    "yuan_to_fen",
]
