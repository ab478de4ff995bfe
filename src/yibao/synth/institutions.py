"""Designated institutions (定点医药机构) of the area and of the places patients travel to.

Codes follow the national platform's shape: ``H`` (hospital or clinic) or ``P`` (pharmacy),
the 6-digit division code and a 5-digit number. The area has, per million persons, 5 level-3
hospitals, 15 level-2 hospitals, 300 level-1 institutions (community and township health
centres, village clinics) and 400 pharmacies (assumption, of the order of the NHC yearbook's
counts: ~3,900 level-3 and ~11,000 level-2 hospitals, ~980,000 primary care institutions, and
~600,000 designated pharmacies for 1.4 billion people; primary care is lumped into fewer, larger
units here). Patients pick an institution of the right kind with Zipf-like popularity (weight
1/rank^0.8): a few large hospitals take most admissions. Cross-region care goes to the tertiary
hospitals of a few large cities and of the province's capital.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from yibao.synth.dates import I64

B = npt.NDArray[np.bool_]
PER_MILLION = {3: 5.0, 2: 15.0, 1: 300.0}
PHARMACIES_PER_MILLION = 400.0
MINIMUM = {3: 2, 2: 3, 1: 10}
MIN_PHARMACIES = 10
ZIPF = 0.8
#: Beijing Chaoyang, Shanghai Xuhui, Guangzhou Tianhe, Hangzhou Xihu, Wuhan Wuchang, Changsha
#: Furong, Chengdu Wuhou, Nanjing Gulou.
DESTINATIONS = ("110105", "310104", "440106", "330106", "420106", "430102", "510107", "320106")
HOSPITALS_PER_DESTINATION = 20
MAX_CODES = 99_999


def _cdf(size: int) -> npt.NDArray[np.float64]:
    w = 1.0 / np.arange(1, size + 1) ** ZIPF
    return np.asarray(np.cumsum(w) / w.sum(), dtype=np.float64)


class Institutions:
    def __init__(self, region: str, persons: int) -> None:
        million = persons / 1e6
        sizes = {lv: max(MINIMUM[lv], round(PER_MILLION[lv] * million)) for lv in (3, 2, 1)}
        scale = min(1.0, MAX_CODES / sum(sizes.values()))
        sizes = {lv: max(MINIMUM[lv], int(s * scale)) for lv, s in sizes.items()}
        pharmacies = min(MAX_CODES, max(MIN_PHARMACIES, round(PHARMACIES_PER_MILLION * million)))
        codes: list[str] = []
        self.offset: dict[int, int] = {}
        self.cdf: dict[int, npt.NDArray[np.float64]] = {}
        number = 0
        for level in (3, 2, 1):
            self.offset[level] = len(codes)
            self.cdf[level] = _cdf(sizes[level])
            codes += [f"H{region}{number + i + 1:05d}" for i in range(sizes[level])]
            number += sizes[level]
        self.offset[0] = len(codes)
        self.cdf[0] = _cdf(pharmacies)
        codes += [f"P{region}{i + 1:05d}" for i in range(pharmacies)]
        capital = region[:2] + ("0100" if region[2:4] != "01" else "0200")
        places = (*DESTINATIONS, capital)
        self.cross_offset = len(codes)
        self.cross_size = len(places) * HOSPITALS_PER_DESTINATION
        codes += [
            f"H{place}{i + 1:05d}" for place in places for i in range(HOSPITALS_PER_DESTINATION)
        ]
        self.codes = pa.array(codes, type=pa.string())
        self.counts = {
            "level3": sizes[3],
            "level2": sizes[2],
            "level1": sizes[1],
            "pharmacies": pharmacies,
        }

    def pick(self, rng: np.random.Generator, level: I64, pharmacy: B, cross: B) -> I64:
        """Index into ``codes`` per claim: by level (pharmacies apart), or a destination."""
        u = rng.random(len(level))
        idx = np.zeros(len(level), dtype=np.int64)
        kind = np.where(pharmacy, 0, level)
        for k, cdf in self.cdf.items():
            sel = kind == k
            idx[sel] = self.offset[k] + np.minimum(
                np.searchsorted(cdf, u[sel], side="right"), len(cdf) - 1
            )
        far = self.cross_offset + (u * self.cross_size).astype(np.int64)
        return np.asarray(np.where(cross, far, idx), dtype=np.int64)
