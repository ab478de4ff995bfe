"""Major epidemics (重大疫情) declared by a bureau: the declaration's checks, and the ledger legs of
the fund's advance to a designated institution (预拨) and of clearing it afterwards. Pure.

The advance is paid out of the area's cash before the epidemic's claims are settled: D
``epidemic_advance:<area>`` (what the area's funds advanced and have not cleared, debit-normal),
C ``cash:<area>``. Once the institution's epidemic settlements have been cleared (its monthly
clearing pays them in full), the advance is cleared: recovered from the institution, D
``cash:<area>``, C ``epidemic_advance:<area>``, so the account returns to zero.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from yibao.domain.errors import InvalidField
from yibao.domain.ledger import AccountKind, AccountRef, Posting, credit, debit
from yibao.domain.registry import check_area
from yibao.policy.vocab import GroupKind
from yibao.rules.epidemics import EpidemicTerms

_ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")
#: The most listed diseases or groups of one declaration (a guard, not a policy figure).
MAX_LISTED = 200
#: No declaration starts before the basic medical insurance itself (国发〔1998〕44号, 1998-12-14).
EARLIEST_START = dt.date(1998, 12, 14)
#: The longest declared period (a guard, not a policy figure): an epidemic whose end is not known
#: is declared without one and ended when it is over.
MAX_PERIOD = dt.timedelta(days=5 * 366)
ADVANCE_KIND = "epidemic_advance"
ADVANCE_CLEARING_KIND = "epidemic_advance_clearing"


@dataclass(frozen=True)
class Epidemic:
    """A declared epidemic: the area and period, the listed diseases (ICD-10 codes or their
    starts) and special groups, who declared it and when it ended (None: in force)."""

    area: str
    name: str
    starts_on: dt.date
    ends_on: dt.date | None
    diseases: tuple[str, ...]
    groups: tuple[str, ...]
    declared_by: str
    id: int | None = None

    def __post_init__(self) -> None:
        check_area(self.area, "area")
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 100:
            raise InvalidField("name", "missing or longer than 100 characters", self.name)
        if self.starts_on < EARLIEST_START:
            raise InvalidField(
                "starts_on", f"is before the insurance began ({EARLIEST_START})", self.starts_on
            )
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise InvalidField("ends_on", "is before the epidemic starts", self.ends_on)
        if self.ends_on is not None and self.ends_on - self.starts_on > MAX_PERIOD:
            raise InvalidField(
                "ends_on", "is more than 5 years after the start (leave it open instead)",
                self.ends_on,
            )  # fmt: skip
        if not self.diseases and not self.groups:
            raise InvalidField("diseases", "list at least one disease or group")
        if len(self.diseases) > MAX_LISTED or len(self.groups) > MAX_LISTED:
            raise InvalidField("diseases", f"at most {MAX_LISTED} diseases and groups")
        for code in self.diseases:
            if not isinstance(code, str) or not _ICD10.match(code):
                raise InvalidField("diseases", "an ICD-10 code or its start, like J12", code)
        kinds = [g.value for g in GroupKind]
        for g in self.groups:
            if g not in kinds:
                raise InvalidField("groups", f"must be among {', '.join(kinds)}", g)

    @property
    def terms(self) -> EpidemicTerms:
        assert self.id is not None
        return EpidemicTerms(
            self.id, self.area, self.starts_on, self.ends_on, self.diseases, self.groups
        )


def listed(values: Iterable[str]) -> tuple[str, ...]:
    """Listed codes trimmed, upper-case, without repeats, in the order given."""
    out: list[str] = []
    for v in values:
        code = v.strip().upper() if isinstance(v, str) else v
        if code not in out:
            out.append(code)
    return tuple(out)


def advance_reference(epidemic_id: int, institution: str, on: dt.date) -> str:
    """One advance per epidemic, institution and day."""
    return f"epidemic_advance:{epidemic_id}:{institution}:{on.isoformat()}"


def clearing_reference(epidemic_id: int, institution: str) -> str:
    """The advance of an epidemic to an institution is cleared once."""
    return f"epidemic_advance_clearing:{epidemic_id}:{institution}"


def advance_postings(area: str, fen: int) -> list[Posting]:
    """The advance: D ``epidemic_advance:<area>``, C ``cash:<area>``."""
    if fen <= 0:
        raise InvalidField("amount", "must be more than 0", fen)
    return [
        debit(AccountRef.fund(AccountKind.EPIDEMIC_ADVANCE, area), fen),
        credit(AccountRef.fund(AccountKind.CASH, area), fen),
    ]


def clearing_postings(area: str, fen: int) -> list[Posting]:
    """Clearing the advance: D ``cash:<area>``, C ``epidemic_advance:<area>``."""
    return [
        debit(AccountRef.fund(AccountKind.CASH, area), fen),
        credit(AccountRef.fund(AccountKind.EPIDEMIC_ADVANCE, area), fen),
    ]
