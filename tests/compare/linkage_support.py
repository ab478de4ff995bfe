"""A small noisy department file and its registry for the linkage tests, from a fixed seed:
registry persons (names from the generator's name lists, household addresses, national IDs);
records copied from some of them with noise (a homophone or another character in the name, a
digit of the birth date, the ID missing or two digits swapped, the address shortened or
another), and records of people not in the registry. The truth: each record's ``psn_no`` or
None."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao.domain.identity import make_national_id
from yibao.synth.names import names

#: Homophones (同音字) of the given-name characters the generator uses.
HOMOPHONES = {
    "伟": "玮", "强": "蔷", "磊": "垒", "军": "君", "杰": "洁", "涛": "滔", "明": "铭",
    "华": "桦", "飞": "菲", "波": "博", "宇": "雨", "浩": "皓", "凯": "恺", "俊": "骏",
    "龙": "隆", "林": "琳", "晨": "辰", "文": "雯", "国": "果", "志": "智", "芳": "方",
    "娜": "纳", "敏": "闽", "静": "婧", "丽": "莉", "艳": "燕", "娟": "鹃", "玲": "灵",
    "婷": "亭", "雪": "薛", "慧": "惠", "颖": "影", "欣": "新", "怡": "宜", "梦": "孟",
    "佳": "嘉", "悦": "越", "涵": "晗", "雨": "宇", "思": "斯", "红": "虹", "梅": "玫",
}  # fmt: skip
STREETS = tuple(
    [
        "解放路",
        "人民路",
        "中山路",
        "建设路",
        "胜利街",
        "和平街",
        "光明路",
        "新华路",
        "长江路",
        "黄河路",
    ]
)
DISTRICTS = ("东城区", "西城区", "南湖区", "北山区")


def _address(rng: np.random.Generator) -> str:
    return (
        f"江西省赣州市{DISTRICTS[rng.integers(len(DISTRICTS))]}"
        f"{STREETS[rng.integers(len(STREETS))]}{rng.integers(1, 300)}号"
        f"{rng.integers(1, 20)}栋{rng.integers(1, 30)}0{rng.integers(1, 5)}室"
    )


def _people(rng: np.random.Generator, n: int, first_seq: int) -> dict[str, list[object]]:
    male = rng.random(n) < 0.5
    days = rng.integers(0, 80 * 365, n)
    births = [dt.date(1940, 1, 1) + dt.timedelta(days=int(d)) for d in days]
    return {
        "name": names(rng, male).to_pylist(),
        "sex": ["M" if m else "F" for m in male],
        "birth_date": [b.isoformat() for b in births],
        "address": [_address(rng) for _ in range(n)],
        "id_no": [
            make_national_id("360426", b, (first_seq + i) % 999 + 1) for i, b in enumerate(births)
        ],
    }


def _typo_name(rng: np.random.Generator, name: str) -> str:
    i = int(rng.integers(1, len(name)))
    ch = name[i]
    sub = HOMOPHONES[ch] if rng.random() < 0.7 and ch in HOMOPHONES else "德"
    return name[:i] + sub + name[i + 1 :]


def _typo_date(rng: np.random.Generator, date: str) -> str:
    """A digit of the day changed (a plausible date)."""
    d = dt.date.fromisoformat(date)
    day = d.day % 10 + 10 * ((d.day // 10 + 1) % 3) or 1
    try:
        return d.replace(day=day).isoformat()
    except ValueError:
        return d.replace(day=1).isoformat()


def _swap(rng: np.random.Generator, id_no: str) -> str:
    i = int(rng.integers(6, 16))
    if id_no[i] == id_no[i + 1]:
        i = 6 if id_no[6] != id_no[7] else 16
    return id_no[:i] + id_no[i + 1] + id_no[i] + id_no[i + 2 :]


def noisy_file(
    persons: int = 3000, linked: int = 400, strangers: int = 60, seed: int = 16
) -> tuple[pa.Table, pa.Table, dict[int, str | None]]:
    """(records, registry, truth: row_no → psn_no or None)."""
    rng = np.random.default_rng(seed)
    reg = _people(rng, persons, 0)
    psn = [f"P{i:08d}" for i in range(persons)]
    registry = pa.table({"psn_no": psn, **reg})
    rows: dict[str, list[object]] = {k: [] for k in ("name", "sex", "birth_date", "address")}
    rows["id_no"] = []
    truth: dict[int, str | None] = {}
    picked = rng.choice(persons, linked, replace=False)
    for row_no, p in enumerate(picked, start=1):
        name, birth, address = reg["name"][p], reg["birth_date"][p], reg["address"][p]
        id_no: str | None = str(reg["id_no"][p])
        u = rng.random(4)
        if u[0] < 0.3:
            name = _typo_name(rng, str(name))
        if u[1] < 0.1:
            birth = _typo_date(rng, str(birth))
        if u[2] < 0.3:
            address = str(address).split("栋")[0]  # the flat left out
        elif u[2] < 0.45:
            address = _address(rng)  # moved
        if u[3] < 0.5:
            id_no = None
        elif u[3] < 0.9:
            id_no = _swap(rng, str(id_no))
        else:  # another person's ID (a relative's, say)
            id_no = str(reg["id_no"][int(rng.integers(persons))])
        sex = reg["sex"][p] if rng.random() >= 0.01 else ("F" if reg["sex"][p] == "M" else "M")
        for k, v in (("name", name), ("sex", sex), ("birth_date", birth)):
            rows[k].append(v)
        rows["address"].append(address)
        rows["id_no"].append(id_no)
        truth[row_no] = psn[p]
    others = _people(rng, strangers, persons)
    for i in range(strangers):
        for k in rows:
            rows[k].append(others[k][i] if k != "id_no" else None)
        truth[linked + i + 1] = None
    n = linked + strangers
    records = pa.table({"source": ["household"] * n, "row_no": list(range(1, n + 1)), **rows})
    return records, registry, truth


def precision_recall(
    pairs: list[tuple[int, str]], truth: dict[int, str | None]
) -> tuple[float, float]:
    """Of the linked (row_no, psn_no) pairs, the share right; of the records in the registry,
    the share linked to their person."""
    right = sum(1 for row, psn in pairs if truth.get(row) == psn)
    in_registry = sum(1 for v in truth.values() if v is not None)
    return (right / len(pairs) if pairs else 1.0), right / in_registry


def department_unmatched(
    area: Path, noise: float = 3.0, seed: int = 3
) -> tuple[pa.Table, pa.Table, dict[int, str | None]]:
    """The generated area's household file (``synth.departments``, compare's generator): its
    rows whose ID is missing or matches no registry ID (a 15-digit one upgraded first) as the
    records to link, the area's persons as the registry, and the truth of those rows."""
    from yibao.services.compare.review import registry_from_area
    from yibao.synth.departments import write_departments

    out = area / "departments"
    write_departments(area, out, seed=seed, noise=noise)
    registry = registry_from_area(area)
    household = pq.read_table(out / "household.parquet")
    truth_table = pq.read_table(out / "truth.parquet")
    truth_table = truth_table.filter(pc.equal(truth_table["source"], "household"))
    known = set(registry["id_no"].to_pylist())
    ids = household["id_no"].to_pylist()
    keep = [not i or (_upgrade(i) not in known) for i in ids]
    n = household.num_rows
    records = household.append_column("row_no", pa.array(range(1, n + 1), pa.int64()))
    records = records.append_column("source", pa.array(["household"] * n)).filter(pa.array(keep))
    psn = dict(
        zip(truth_table["row_no"].to_pylist(), truth_table["psn_no"].to_pylist(), strict=True)
    )
    truth = {r: (None if psn[r] is None else str(psn[r])) for r in records["row_no"].to_pylist()}
    return records, registry, truth


def _upgrade(id_no: str) -> str:
    """A 15-digit ID as its 18-digit form (19 inserted, the check digit computed)."""
    if len(id_no) != 15:
        return id_no
    from stdnum.cn import ric

    body = id_no[:6] + "19" + id_no[6:]
    return body + ric.calc_check_digit(body)
