"""What the API answers when PostgreSQL refuses a value (``api.http.tx.translate``): the
database's own words for it, and the NUL hint only for a NUL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DataError

from tests.store_support import ADMIN_URL
from yibao.api.http import errors
from yibao.api.http.tx import translate


def _refused(sql: str, **params: object) -> DataError:
    engine = create_engine(ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn, pytest.raises(DataError) as info:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()
    return info.value


def test_a_number_out_of_range_is_not_called_a_nul() -> None:
    found = translate(_refused("SELECT CAST(:n AS INTEGER)", n="2147483648"))
    assert found is not None and found.infcode == errors.MALFORMED
    assert "out of range for type integer" in found.message and "NUL" not in found.message
    assert "nothing was stored" in found.message


def test_a_nul_in_a_text_is_named() -> None:
    found = translate(_refused("SELECT CAST(:t AS TEXT)", t="a\x00b"))
    assert found is not None and found.infcode == errors.MALFORMED
    assert "NUL" in found.message
