"""``holds_national_id``'s first look (a run of 17 or 18 ASCII digits) never hides an ID the pattern
finds (hypothesis, on digit-heavy texts)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.domain.masking import _NATIONAL_ID, holds_national_id

texts = st.text(st.sampled_from('0123456789Xx." ,:é\u0661\ud800a'), max_size=60) | st.builds(
    lambda a, d, b: a + d + b,
    st.text(max_size=5),
    st.text("0123456789", min_size=16, max_size=27),
    st.text("0123456789Xxa ", max_size=3),
)


@settings(max_examples=500, deadline=None)
@given(texts)
def test_holds_a_national_id_as_the_pattern_finds_one(text: str) -> None:
    assert holds_national_id(text) == (_NATIONAL_ID.search(text) is not None)


def test_an_id_among_amounts() -> None:
    assert holds_national_id('{"a":"12.50","b":"11010519491231002X"}')
    assert not holds_national_id('{"a":"1234567890123456.78","b":"11010519491231002"}')
    assert not holds_national_id('{"c":"C03020101027010189000213813","d":"1101051949123100211"}')
    assert holds_national_id('{"c":"C03020101027010189000213813","d":"110105194912310021"}')
