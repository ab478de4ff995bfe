"""Other departments' files for a generated area, with realistic noise and a ground truth.

``yibao synth departments AREA`` reads the area's persons (the registry) part by part and writes,
in the layouts of docs/compare.md, what public security, civil affairs, the health commission,
tax and education would send at the end of the area's year::

    out/household.parquet   public security household registry (公安户籍)
    out/aid.parquet         civil affairs aid recipients (民政救助)
    out/death.parquet       deaths in the year (死亡)
    out/employment.parquet  tax / employment (税务/就业)
    out/education.parquet   students (教育)
    out/truth.parquet       source, row_no, psn_no (null: not in the registry), noise, planted
    out/meta.json

(``--format csv`` writes ``.csv`` files with the same columns instead.) ``row_no`` is the 1-based
number of the data row in its file (the header line of a CSV is not counted).

Who is in them (assumptions, shares of the registry's persons, all multiplied by ``noise``
except the deaths and the registry's own people):

- ``household``: every registry person alive at the year's end, plus ``ABSENT_SHARE`` people
  living in the area who are not in the registry (the uninsured), a ``NEWBORN_OF_ABSENT`` part of
  them born in the year (newborns never enrolled). Their IDs carry order codes from
  ``ABSENT_ORDER`` up, so they never collide with a registry ID below ~30 million persons.
- ``death``: registry persons who died in the year (annual probability by age, ``DEATH_Q``) and
  ``DEATH_ABSENT_SHARE`` dead people not in the registry.
- ``aid``: the registry's aid recipients with their class (a ``WRONG_CLASS_SHARE`` part with
  another class: the registry's class is wrong), plus ``NEW_AID_SHARE`` of the registry's
  residents without a class (recipients without their subsidy).
- ``employment``: employees and flexible workers in service, plus ``EMPLOYED_RESIDENT_SHARE`` of
  the residents aged 18–59 (employed but insured as residents: two schemes).
- ``education``: the registry's students, plus the absent people aged 6–22 (students not
  enrolled).

Noise on every file's rows (``planted`` is empty for the registry's ordinary rows): a typo in the
given name (``NAME_TYPO``), two adjacent ID digits swapped (``ID_SWAP``), the ID missing
(``ID_MISSING``), a 15-digit legacy ID for people born before 2000 (``ID_15``), the birth date
off by days (``BIRTH_OFF``, household and education), the address without its room
(``ADDRESS_SHORT``). ``noise`` in the truth names what was done, ``+``-joined.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from yibao.synth.dates import I64, year_start, yyyymmdd
from yibao.synth.demography import draw_ages
from yibao.synth.ids import IdIssuer
from yibao.synth.names import FEMALE_CHARS, MALE_CHARS, names

B = npt.NDArray[np.bool_]

KINDS = ("household", "aid", "death", "employment", "education")
#: the columns of each department file, in order (docs/compare.md)
COLUMNS: dict[str, tuple[str, ...]] = {
    "household": ("id_no", "name", "sex", "birth_date", "address", "household_no"),
    "aid": ("id_no", "name", "aid_class", "valid_from", "valid_to"),
    "death": ("id_no", "name", "death_date"),
    "employment": ("id_no", "name", "employer", "year", "months"),
    "education": ("id_no", "name", "birth_date", "school", "enrol_year"),
}

ABSENT_SHARE = 0.03
NEWBORN_OF_ABSENT = 0.1
ABSENT_ORDER = 400
DEATH_Q = ((0, 0.0005), (40, 0.002), (60, 0.01), (70, 0.025), (80, 0.07), (90, 0.18))
DEATH_ABSENT_SHARE = 0.0005
WRONG_CLASS_SHARE = 0.03
NEW_AID_SHARE = 0.003
EMPLOYED_RESIDENT_SHARE = 0.01
NAME_TYPO = 0.02
ID_SWAP = 0.01
ID_MISSING = 0.01
ID_15 = 0.01
BIRTH_OFF = 0.005
ADDRESS_SHORT = 0.03
SCHOOLS = 120
EMPLOYERS = 5000

DISTRICTS = ("东湖", "西湖", "青云谱", "青山湖", "新建", "红谷滩", "南昌", "安义", "进贤")
STREETS = ("人民", "解放", "建设", "中山", "胜利", "和平", "北京", "八一", "阳明", "象山", "井冈山")
_CHARS = pa.array([*MALE_CHARS, *FEMALE_CHARS], type=pa.string())
AID_CODES = ("tekun", "dibao", "low_income_edge", "monitored", "ill_poor")


@dataclass
class DepartmentsManifest:
    area: str
    region: str
    year: int
    seed: int
    noise: float
    format: str
    rows: dict[str, int] = field(default_factory=dict)
    planted: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def household_address(household_id: pa.Array | I64) -> pa.Array:
    """The address of each household (deterministic from its id): the registry side's address."""
    h = np.asarray(household_id, dtype=np.int64)
    mix = (h * 2654435761) % (1 << 31)
    district = pa.array(DISTRICTS).take(pa.array(mix % len(DISTRICTS)))
    street = pa.array(STREETS).take(pa.array((mix // 7) % len(STREETS)))
    number = pa.array(((mix // 97) % 300 + 1).astype(str))
    room = pa.array(((h % 6) + 1) * 100 + (h // 6) % 4 + 1).cast(pa.string())
    return pc.binary_join_element_wise(district, "区", street, "路", number, "号", room, "室", "")


def _short_address(address: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(address, pattern=r"\d+室$", replacement="")


def _age_q(age: I64) -> npt.NDArray[np.float64]:
    q = np.zeros(len(age))
    for lo, value in DEATH_Q:
        q[age >= lo] = value
    return q


def _day_strings(days: I64) -> pa.Array:
    return pc.strftime(pa.array(days.astype(np.int32), type=pa.date32()), format="%Y-%m-%d")


def id15(ids: list[str]) -> list[str]:
    """The 15-digit legacy form of 18-digit IDs (the century and the check digit dropped)."""
    return [i[:6] + i[8:17] for i in ids]


def _typo(rng: np.random.Generator, name: str) -> str:
    if len(name) < 2:
        return name
    pos = 1 + int(rng.integers(len(name) - 1))
    char = str(_CHARS[int(rng.integers(len(_CHARS)))])
    if char == name[pos]:
        char = "晓" if name[pos] != "晓" else "小"
    return name[:pos] + char + name[pos + 1 :]


def _swap(rng: np.random.Generator, number: str) -> str:
    digits = [i for i in range(min(len(number), 17) - 1) if number[i] != number[i + 1]]
    if not digits:
        return number
    i = digits[int(rng.integers(len(digits)))]
    return number[:i] + number[i + 1] + number[i] + number[i + 2 :]


@dataclass
class _Rows:
    """One department's rows of a chunk before noise: who, and the file's own columns."""

    psn_no: I64  # -1: not in the registry
    ids: list[str]
    names: list[str]
    birth: I64
    planted: list[str]
    columns: dict[str, pa.Array]


def _noisy(rng: np.random.Generator, kind: str, rows: _Rows, scale: float) -> pa.Table:
    n = len(rows.ids)
    ids, nm = list(rows.ids), list(rows.names)
    notes: list[list[str]] = [[] for _ in range(n)]
    u = rng.random((n, 4))
    birth_year = yyyymmdd(rows.birth) // 10_000
    for i in np.flatnonzero(u[:, 0] < NAME_TYPO * scale):
        nm[i] = _typo(rng, nm[i])
        notes[i].append("name")
    for i in np.flatnonzero(u[:, 1] < (ID_SWAP + ID_MISSING + ID_15) * scale):
        x = u[i, 1] / scale
        if x < ID_SWAP:
            swapped = _swap(rng, ids[i])
            if swapped != ids[i]:
                ids[i] = swapped
                notes[i].append("id_swap")
        elif x < ID_SWAP + ID_MISSING:
            ids[i] = ""
            notes[i].append("id_missing")
        elif birth_year[i] < 2000:
            ids[i] = id15([ids[i]])[0]
            notes[i].append("id_15")
    columns = dict(rows.columns)
    birth = rows.birth
    if "birth_date" in COLUMNS[kind]:
        off = u[:, 2] < BIRTH_OFF * scale
        shift = rng.integers(1, 31, n) * np.where(rng.random(n) < 0.5, -1, 1)
        birth = np.where(off, birth + shift, birth)
        for i in np.flatnonzero(off):
            notes[i].append("birth_date")
        columns["birth_date"] = pa.array(birth.astype(np.int32), type=pa.date32())
    if "address" in columns:
        short = u[:, 3] < ADDRESS_SHORT * scale
        columns["address"] = pc.if_else(
            pa.array(short), _short_address(columns["address"]), columns["address"]
        )
        for i in np.flatnonzero(short):
            notes[i].append("address")
    columns["id_no"] = pa.array(ids, type=pa.string())
    columns["name"] = pa.array(nm, type=pa.string())
    table = pa.table({c: columns[c] for c in COLUMNS[kind]})
    truth = pa.table(
        {
            "psn_no": pa.array(rows.psn_no, mask=rows.psn_no < 0, type=pa.int64()),
            "noise": pa.array(["+".join(x) for x in notes], type=pa.string()),
            "planted": pa.array(rows.planted, type=pa.string()),
        }
    )
    return (
        table.append_column("_psn", truth["psn_no"])
        .append_column("_noise", truth["noise"])
        .append_column("_planted", truth["planted"])
    )


class _Writers:
    """One streaming writer per department file and the truth file; row numbers carried on."""

    def __init__(self, out: Path, fmt: str) -> None:
        self.out, self.fmt = out, fmt
        self.writers: dict[str, Any] = {}
        self.rows = dict.fromkeys(KINDS, 0)

    def path(self, kind: str) -> Path:
        return self.out / f"{kind}.{self.fmt}"

    def _write(self, name: str, table: pa.Table) -> None:
        if name not in self.writers:
            if self.fmt == "csv" and name != "truth":
                self.writers[name] = pcsv.CSVWriter(self.path(name), table.schema)
            else:
                path = self.out / f"{name}.parquet"
                self.writers[name] = pq.ParquetWriter(path, table.schema, compression="zstd")
        self.writers[name].write_table(table)

    def add(self, kind: str, table: pa.Table) -> None:
        n = table.num_rows
        first = self.rows[kind]
        self.rows[kind] += n
        data = table.select(list(COLUMNS[kind]))
        if self.fmt == "csv":
            data = pa.table({c: _as_text(data[c]) for c in data.column_names})
        self._write(kind, data)
        truth = pa.table(
            {
                "source": pa.array([kind] * n, type=pa.string()),
                "row_no": pa.array(np.arange(first + 1, first + n + 1, dtype=np.int64)),
                "psn_no": table["_psn"],
                "noise": table["_noise"],
                "planted": table["_planted"],
            }
        )
        self._write("truth", truth)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_date32(column.type):
        return pc.strftime(column, format="%Y-%m-%d")
    return column.cast(pa.string())


def _absent_issuer(region: str, year: int) -> IdIssuer:
    issuer = IdIssuer(region, year)
    issuer.counts[:] = ABSENT_ORDER
    return issuer


def _pick(values: list[Any] | pa.Array, index: I64) -> list[Any]:
    arr = values if isinstance(values, pa.Array) else pa.array(values)
    return list(arr.take(pa.array(index)).to_pylist())


def _chunk(
    rng: np.random.Generator,
    persons: pa.Table,
    issuer: IdIssuer,
    region: str,
    year: int,
    scale: float,
) -> Iterator[tuple[str, _Rows]]:
    n = persons.num_rows
    psn = persons["psn_no"].to_numpy()
    ids = persons["national_id"].to_pylist()
    nm = persons["name"].to_pylist()
    birth = persons["birth_date"].cast(pa.int32()).to_numpy().astype(np.int64)
    end = year_start(year + 1) - 1
    age = (yyyymmdd(np.full(n, end)) - yyyymmdd(birth)) // 10_000
    scheme = persons["scheme"].to_pylist()
    resident = np.array([s == "resident" for s in scheme])
    working = np.array([s in ("employee", "flexible") for s in scheme])
    klass = persons["assistance_class"].to_pylist()
    student = np.array(["student" in (g or []) for g in persons["groups"].to_pylist()])
    household = persons["household_id"].to_numpy()
    address = household_address(household)

    # deaths: who of the registry died in the year, and when
    died = rng.random(n) < _age_q(age)
    death_day = year_start(year) + (rng.random(n) * (end - year_start(year) + 1)).astype(np.int64)
    death_day = np.maximum(death_day, birth)

    # the absent: living here, not in the registry
    m = int(rng.binomial(n, min(1.0, ABSENT_SHARE * scale)))
    a_age = draw_ages(rng, m)
    a_age = np.where(rng.random(m) < NEWBORN_OF_ABSENT, 0, a_age)
    a_male = rng.random(m) < 0.5
    a_birth = year_start(year) - (a_age * 365.25).astype(np.int64) - rng.integers(0, 365, m)
    a_birth = np.where(a_age == 0, year_start(year) + rng.integers(0, 300, m), a_birth)
    a_ids = issuer.issue(a_birth, a_male).to_pylist()
    a_names = names(rng, a_male).to_pylist()
    a_household = rng.integers(10**15, 10**16, m)
    none_m = np.full(m, -1, dtype=np.int64)
    planted_absent = ["newborn" if a == 0 else "absent" for a in a_age]

    alive = np.flatnonzero(~died)
    yield (
        "household",
        _Rows(
            psn_no=np.r_[psn[alive], none_m],
            ids=_pick(ids, alive) + a_ids,
            names=_pick(nm, alive) + a_names,
            birth=np.r_[birth[alive], a_birth],
            planted=[""] * len(alive) + planted_absent,
            columns={
                "sex": pa.concat_arrays(
                    [
                        persons["sex"].combine_chunks().take(pa.array(alive)),
                        pa.array(np.where(a_male, "M", "F")),
                    ]
                ),
                "address": pa.concat_arrays(
                    [address.take(pa.array(alive)), household_address(a_household)]
                ),
                "household_no": pa.array(np.r_[household[alive], a_household]).cast(pa.string()),
            },
        ),
    )

    d = np.flatnonzero(died)
    k = int(rng.binomial(n, min(1.0, DEATH_ABSENT_SHARE * scale)))
    k_male = rng.random(k) < 0.5
    k_birth = year_start(year) - rng.integers(60 * 365, 95 * 365, k)
    k_ids = issuer.issue(k_birth, k_male).to_pylist()
    k_days = year_start(year) + rng.integers(0, end - year_start(year) + 1, k)
    yield (
        "death",
        _Rows(
            psn_no=np.r_[psn[d], np.full(k, -1, dtype=np.int64)],
            ids=_pick(ids, d) + k_ids,
            names=_pick(nm, d) + names(rng, k_male).to_pylist(),
            birth=np.r_[birth[d], k_birth],
            planted=["dead"] * len(d) + ["dead_absent"] * k,
            columns={"death_date": _day_strings(np.r_[death_day[d], k_days])},
        ),
    )

    has = np.array([c is not None for c in klass])
    new_aid = resident & ~has & (rng.random(n) < NEW_AID_SHARE * scale)
    wrong = has & (rng.random(n) < WRONG_CLASS_SHARE * scale)
    who = np.flatnonzero(has | new_aid)
    classes, planted = [], []
    for i in who:
        if new_aid[i]:
            classes.append(AID_CODES[int(rng.integers(1, len(AID_CODES)))])
            planted.append("aid_missing")
        elif wrong[i]:
            others = [c for c in AID_CODES if c != klass[i]]
            classes.append(others[int(rng.integers(len(others)))])
            planted.append("aid_class")
        else:
            classes.append(klass[i])
            planted.append("")
    aid_from = year_start(year) - rng.integers(0, 3 * 365, len(who))
    yield (
        "aid",
        _Rows(
            psn_no=psn[who],
            ids=_pick(ids, who),
            names=_pick(nm, who),
            birth=birth[who],
            planted=planted,
            columns={
                "aid_class": pa.array(classes, type=pa.string()),
                "valid_from": _day_strings(aid_from),
                "valid_to": _day_strings(np.full(len(who), end)),
            },
        ),
    )

    employed_resident = (
        resident & (age >= 18) & (age <= 59) & (rng.random(n) < EMPLOYED_RESIDENT_SHARE * scale)
    )
    who = np.flatnonzero((working | employed_resident) & ~died)
    employer = rng.integers(0, EMPLOYERS, len(who))
    yield (
        "employment",
        _Rows(
            psn_no=psn[who],
            ids=_pick(ids, who),
            names=_pick(nm, who),
            birth=birth[who],
            planted=["two_schemes" if employed_resident[i] else "" for i in who],
            columns={
                "employer": pa.array([f"{region}{e:08d}" for e in employer], type=pa.string()),
                "year": pa.array(np.full(len(who), year, dtype=np.int32)),
                "months": pa.array(rng.integers(6, 13, len(who)).astype(np.int32)),
            },
        ),
    )

    who = np.flatnonzero(student & ~died)
    a_student = np.flatnonzero((a_age >= 6) & (a_age <= 22) & (rng.random(m) < 0.9))
    n_edu = len(who) + len(a_student)
    ages = np.r_[age[who], a_age[a_student]]
    yield (
        "education",
        _Rows(
            psn_no=np.r_[psn[who], none_m[a_student]],
            ids=_pick(ids, who) + _pick(a_ids, a_student),
            names=_pick(nm, who) + _pick(a_names, a_student),
            birth=np.r_[birth[who], a_birth[a_student]],
            planted=[""] * len(who) + ["student_absent"] * len(a_student),
            columns={
                "school": pa.array(
                    [f"{region}{s:04d}" for s in rng.integers(0, SCHOOLS, n_edu)],
                    type=pa.string(),
                ),
                "enrol_year": pa.array((year - np.clip(ages - 6, 0, 16) % 6).astype(np.int32)),
            },
        ),
    )


#: called after each part with (parts done, parts in all)
Progress = Callable[[int, int], None]


def write_departments(
    area: Path | str,
    out: Path | str | None = None,
    *,
    seed: int = 0,
    noise: float = 1.0,
    fmt: str = "parquet",
    progress: Progress | None = None,
) -> DepartmentsManifest:
    """Write the department files of the generated ``area`` into ``out`` (default
    ``area/departments``); the same area, seed, noise and format give the same files."""
    area = Path(area)
    meta = json.loads((area / "meta.json").read_text(encoding="utf-8"))
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format must be parquet or csv, got {fmt!r}")
    if not 0 <= noise <= 5:
        raise ValueError(f"noise must be between 0 and 5, got {noise}")
    target = Path(out) if out is not None else area / "departments"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.*"):
        if old.suffix in (".parquet", ".csv") or old.name == "meta.json":
            old.unlink()
    region, year = str(meta["region"]), int(meta["year"])
    issuer = _absent_issuer(region, year)
    manifest = DepartmentsManifest(str(area), region, year, seed, noise, fmt)
    writers = _Writers(target, fmt)
    parts = sorted((area / "persons").glob("part-*.parquet"))
    planted: dict[str, int] = {}
    try:
        for k, part in enumerate(parts):
            rng = np.random.Generator(
                np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(1_000_003, k)))
            )
            persons = pq.read_table(part)
            for kind, rows in _chunk(rng, persons, issuer, region, year, noise):
                table = _noisy(rng, kind, rows, noise)
                writers.add(kind, table)
                for p in rows.planted:
                    if p:
                        planted[p] = planted.get(p, 0) + 1
            if progress is not None:
                progress(k + 1, len(parts))
    finally:
        writers.close()
    manifest.rows = dict(writers.rows)
    manifest.planted = dict(sorted(planted.items()))
    (target / "meta.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest
