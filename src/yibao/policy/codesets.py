"""The national platform's code sets (医疗保障信息平台 数据字典): ``policy/codes/national.yaml``,
each code mapped to yibao's vocabulary in that one file.

``to_yibao("med_type", "21")`` is ``"inpatient"``; ``to_national("med_type", "inpatient")`` is
``"21"`` (the first code of the value). A code outside the set, or a valid national code yibao
does not settle, raises ``CodeError`` naming the set, the code and what to send instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from yibao.policy.vocab import MED_TYPES, DischargeWay, InsuranceScheme, ItemClass

#: The yibao values some sets must map onto (checked when the file is read).
_VALUES: dict[str, frozenset[str]] = {
    "med_type": frozenset(MED_TYPES),
    "insutype": frozenset(s.value for s in InsuranceScheme),
    "dscg_way": frozenset(w.value for w in DischargeWay),
    "chrgitm_lv": frozenset(c.value for c in ItemClass),
    "acct_used_flag": frozenset({"true", "false"}),
}


class CodeError(ValueError):
    """A code not in its set, or one yibao does not settle."""

    def __init__(self, code_set: str, code: object, reason: str) -> None:
        self.code_set = code_set
        self.code = code
        self.reason = reason
        super().__init__(f"{code_set}: {code!r}: {reason}")


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    yibao: str | None  # None: a national code yibao does not settle
    why: str | None
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodeSet:
    name: str
    codes: dict[str, Code]

    def to_yibao(self, code: object) -> str:
        key = (
            str(code).strip()
            if isinstance(code, str | int) and not isinstance(code, bool)
            else None
        )
        found = self.codes.get(key) if key is not None else None
        if found is None:
            raise CodeError(
                self.name,
                code,
                f"not a code of {self.name} (expected one of {', '.join(self.codes)})",
            )
        if found.yibao is None:
            raise CodeError(self.name, code, f"{found.name}: {found.why or 'not settled by yibao'}")
        return found.yibao

    def to_national(self, value: str) -> str | None:
        for c in self.codes.values():
            if c.yibao == value or value in c.also:
                return c.code
        return None

    def name_of(self, code: str) -> str | None:
        found = self.codes.get(code)
        return None if found is None else found.name


def _load(doc: dict[str, Any]) -> dict[str, CodeSet]:
    sets: dict[str, CodeSet] = {}
    for set_name, entries in doc.items():
        codes: dict[str, Code] = {}
        for code, entry in entries.items():
            value = entry.get("yibao")
            value = None if value is None else str(value)
            allowed = _VALUES.get(set_name)
            if value is not None and allowed is not None and value not in allowed:
                raise ValueError(
                    f"national.yaml: {set_name}.{code}: {value!r} is not a yibao value"
                )
            codes[str(code)] = Code(
                str(code), str(entry["name"]), value, entry.get("why"), tuple(entry.get("also", ()))
            )
        sets[set_name] = CodeSet(set_name, codes)
    return sets


@cache
def code_sets() -> dict[str, CodeSet]:
    """Every national code set, from the shipped file (read once)."""
    text = resources.files("yibao.policy").joinpath("codes/national.yaml").read_text("utf-8")
    return _load(yaml.safe_load(text))


def to_yibao(code_set: str, code: object) -> str:
    return code_sets()[code_set].to_yibao(code)


def to_national(code_set: str, value: str) -> str | None:
    return code_sets()[code_set].to_national(value)
