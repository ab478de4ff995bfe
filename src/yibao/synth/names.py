"""Chinese names: a surname drawn by its frequency and a one- or two-character given name.

Surname shares are rounded from the Ministry of Public Security's 2020 national name report
(王 7.1%, 李 7.0%, 张 6.6% ...), renormalised over the 60 listed. Given-name characters are
common ones, one list for men and one for women; 75% of given names have two characters.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

SURNAMES = (
    ("王", 7.1), ("李", 7.0), ("张", 6.6), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1), ("黄", 2.5),
    ("赵", 2.3), ("吴", 2.0), ("周", 1.9), ("徐", 1.5), ("孙", 1.5), ("马", 1.4), ("朱", 1.3),
    ("胡", 1.3), ("郭", 1.1), ("何", 1.1), ("林", 1.0), ("罗", 1.0), ("高", 1.0), ("郑", 0.9),
    ("梁", 0.9), ("谢", 0.8), ("宋", 0.7), ("唐", 0.7), ("许", 0.7), ("韩", 0.6), ("邓", 0.6),
    ("冯", 0.6), ("曹", 0.6), ("彭", 0.6), ("曾", 0.5), ("肖", 0.5), ("田", 0.5), ("董", 0.5),
    ("潘", 0.5), ("袁", 0.5), ("蔡", 0.4), ("蒋", 0.4), ("余", 0.4), ("于", 0.4), ("杜", 0.4),
    ("叶", 0.4), ("程", 0.4), ("魏", 0.4), ("苏", 0.3), ("吕", 0.3), ("丁", 0.3), ("任", 0.3),
    ("卢", 0.3), ("姚", 0.3), ("沈", 0.3), ("钟", 0.3), ("姜", 0.3), ("崔", 0.3), ("谭", 0.3),
    ("陆", 0.3), ("范", 0.3), ("汪", 0.3), ("廖", 0.3),
)  # fmt: skip
MALE_CHARS = tuple("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林晨轩泽睿博子文建国志")
FEMALE_CHARS = tuple(
    "芳娜敏静丽艳娟霞燕玲婷雪慧颖琳欣怡梦晶倩佳悦萱涵雨诗思可婉淑秀红梅兰丹月嘉瑶晓美"
)
TWO_CHAR_SHARE = 0.75

_SURNAME_ARRAY = pa.array([s for s, _ in SURNAMES], type=pa.string())
_SURNAME_CDF = np.cumsum([w for _, w in SURNAMES]) / sum(w for _, w in SURNAMES)
_CHARS = pa.array([*MALE_CHARS, *FEMALE_CHARS, ""], type=pa.string())
_EMPTY = len(MALE_CHARS) + len(FEMALE_CHARS)


def _given_char(rng: np.random.Generator, male: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    u = rng.random(len(male))
    idx = np.where(
        male,
        (u * len(MALE_CHARS)).astype(np.int64),
        len(MALE_CHARS) + (u * len(FEMALE_CHARS)).astype(np.int64),
    )
    return np.asarray(idx, dtype=np.int64)


def names(rng: np.random.Generator, male: npt.NDArray[np.bool_]) -> pa.Array:
    n = len(male)
    surname = np.searchsorted(_SURNAME_CDF, rng.random(n), side="right")
    surname = np.minimum(surname, len(SURNAMES) - 1)
    first = _given_char(rng, male)
    second = _given_char(rng, male)
    second = np.where(rng.random(n) < TWO_CHAR_SHARE, second, _EMPTY)
    return pc.binary_join_element_wise(
        _SURNAME_ARRAY.take(pa.array(surname)),
        _CHARS.take(pa.array(first)),
        _CHARS.take(pa.array(second)),
        "",
    )
