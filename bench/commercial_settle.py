"""Settlement (2207, ``settle_many`` in batches of 64) of persons with and without a
supplementary commercial purchase (惠民保), on a scratch SQLite file: process CPU and wall time
per claim of each group, the group without a product first and then the other (``--reverse``:
the other way round), to tell the product's cost from the order's.

    python bench/commercial_settle.py [--n 256] [--reverse]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from functools import cache
from pathlib import Path

from yibao.domain.settlement import Claim
from yibao.policy import Policy
from yibao.services import commercial, contributions, enrolment, registry, settlement
from yibao.services.common import policy_for
from yibao.services.settlement import ClaimRequest
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.uow import UnitOfWork

AREA = "360100"
EMPLOYER = "91360100MA35000001"
#: A product with a small deductible, so every claim of the group is paid by it.
PRODUCT = {
    "insurer": "BENCH",
    "deductible": 1000,
    "ratio": 0.8,
    "cap": 3000,
    "covers": ["in_scope"],
    "sale_from": "11-01",
    "sale_to": "03-31",
}


@cache
def policies(area: str) -> Policy:
    return Policy(policy_for(area).region, overlays=[{"commercial": {"products": {"B": PRODUCT}}}])


def national_id(n: int) -> str:
    """A valid 18-digit national ID (GB 11643 check digit) of a person born 1970-01-01."""
    body = f"36042619700101{n % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def claim(who: str) -> Claim:
    """An inpatient claim of 10000 yuan at level 2 (the product pays 740 of it)."""
    return Claim(
        person=who,
        date=dt.date(2025, 3, 1),
        total=1000000,
        med_type="inpatient",
        level=2,
        use_account=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="claims per group (at most 400)")
    parser.add_argument("--reverse", action="store_true", help="the product's group first")
    args = parser.parse_args()
    n = min(args.n, 400) + 8
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        upgrade(url)
        engine = make_engine(url)
        uow = UnitOfWork.for_engine(engine)
        os.environ["YIBAO_TODAY"] = "2025-01-10"
        people: list[str] = []
        for i in range(2 * n):
            who = registry.add_person(uow, national_id(i), f"P{i}").label
            enrolment.enrol(uow, who, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
            contributions.pay_employee(
                uow, who, dt.date(2024, 12, 1), 800000, dt.date(2024, 12, 20)
            )
            if i < n:
                commercial.buy(uow, who, "B", policies=policies)
            people.append(who)
        os.environ["YIBAO_TODAY"] = "2025-06-30"
        groups = [("without", people[n:]), ("with product", people[:n])]
        for label, group in reversed(groups) if args.reverse else groups:
            requests = [ClaimRequest(claim(who), f"{label}:{k}") for k, who in enumerate(group)]
            settlement.settle_many(uow, requests[:8], policies=policies)  # warm
            wall, cpu = time.perf_counter(), time.process_time()
            for k in range(8, len(requests), 64):
                settlement.settle_many(uow, requests[k : k + 64], policies=policies)
            done = len(requests) - 8
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(
                f"{label}: {done} claims, {wall / done * 1e3:.2f} ms wall, "
                f"{cpu / done * 1e3:.2f} ms CPU per claim"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
