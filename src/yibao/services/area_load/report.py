"""What a load did (counts, seconds, the first invalid rows), and why a load is refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from yibao.domain.errors import RecordError
from yibao.policy import fen_to_yuan

if TYPE_CHECKING:
    from yibao.services.area_load.settle import Settled
    from yibao.services.area_load.visits import Written


class AreaLoadRefused(RecordError):
    """The area cannot be loaded into this database; the message says why."""


@dataclass
class LoadReport:
    folder: str
    database: str
    region: str
    year: int
    persons: int  # generated
    parts: int
    parts_loaded: int = 0
    parts_skipped: int = 0
    persons_inserted: int = 0
    invalid: int = 0
    households: int = 0
    relations: int = 0
    groups: int = 0
    enrolments: dict[str, int] = field(default_factory=dict)
    contributions: dict[str, int] = field(default_factory=dict)
    transactions: int = 0
    postings: int = 0
    opening_balances: int = 0  # personal accounts brought in with a balance
    opening_total: int = 0  # fen
    history_years: int = 0  # coverage years before the year
    assistance_allocation: int = 0  # fen: the year's fiscal allocation to medical assistance
    visits: dict[str, int] = field(default_factory=dict)  # by med type
    claims_skipped: int = 0  # claims of persons not registered (invalid rows)
    diagnoses: int = 0
    procedures: int = 0
    lines: int = 0
    #: the lines' amounts (fen): total, fully self-paid, over the price limit, category B
    line_amounts: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    settlements: int = 0
    #: the settlements' amounts (fen): medical fees, funds, personal accounts, cash
    settled_amounts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def persons_per_minute(self) -> float:
        return self.persons_inserted * 60.0 / self.seconds if self.seconds > 0 else 0.0

    def add_visits(self, written: Written) -> None:
        """Add what ``visits.write_visits`` wrote."""
        for kind, n in written.visits.items():
            self.count(self.visits, kind, n)
        self.claims_skipped += written.claims_skipped
        self.diagnoses += written.diagnoses
        self.procedures += written.procedures
        self.lines += written.lines
        self.line_amounts = [a + b for a, b in zip(self.line_amounts, written.amounts, strict=True)]

    def add_settled(self, settled: Settled) -> None:
        """Add what ``settle.settle_part`` stored."""
        self.settlements += settled.settlements
        self.transactions += settled.transactions
        self.postings += settled.postings
        for k, v in settled.amounts.items():
            self.count(self.settled_amounts, k, v)

    def count(self, counts: dict[str, int], key: str, n: int = 1) -> None:
        counts[key] = counts.get(key, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "database": self.database,
            "region": self.region,
            "year": self.year,
            "persons": self.persons,
            "parts": self.parts,
            "parts_loaded": self.parts_loaded,
            "parts_skipped": self.parts_skipped,
            "persons_inserted": self.persons_inserted,
            "invalid": self.invalid,
            "households": self.households,
            "relations": self.relations,
            "groups": self.groups,
            "enrolments": dict(sorted(self.enrolments.items())),
            "contributions": dict(sorted(self.contributions.items())),
            "transactions": self.transactions,
            "postings": self.postings,
            "opening_balances": {
                "count": self.opening_balances,
                "total": fen_to_yuan(self.opening_total),
            },
            "history_years": self.history_years,
            "assistance_allocation": fen_to_yuan(self.assistance_allocation),
            "visits": dict(sorted(self.visits.items())),
            "claims_skipped": self.claims_skipped,
            "diagnoses": self.diagnoses,
            "procedures": self.procedures,
            "lines": {
                "count": self.lines,
                **{
                    k: fen_to_yuan(v)
                    for k, v in zip(
                        ("total", "fully_self_paid", "over_limit", "category_b"),
                        self.line_amounts,
                        strict=True,
                    )
                },
            },
            "settlements": {
                "count": self.settlements,
                **{k: fen_to_yuan(v) for k, v in self.settled_amounts.items()},
            },
            "seconds": round(self.seconds, 2),
            "persons_per_minute": round(self.persons_per_minute),
            "errors": self.errors,
        }
