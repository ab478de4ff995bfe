"""``services.accounts`` without the API: institutions and their keys, staff accounts, login."""

from __future__ import annotations

import pytest

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from yibao.domain.credentials import institution_key
from yibao.domain.errors import AlreadyExists, InvalidField
from yibao.domain.roles import Role
from yibao.services.accounts import (
    LoginRefused,
    NewInstitution,
    NewStaff,
    create_staff,
    institution_level,
    issue_institution,
    log_in,
)
from yibao.store.uow import UnitOfWork

PASSWORD = "pw-0123456789"


def test_an_institution_is_registered_once_and_gets_a_new_key_each_time(uow: UnitOfWork) -> None:
    spec = NewInstitution(code="H1", name="h", level=2, area="360100")
    first = issue_institution(uow, "secret", spec)
    second = issue_institution(uow, "secret", spec)
    assert first.code == second.code == "H1" and first.key_id != second.key_id
    assert second.key == institution_key("secret", "H1", second.key_id)
    assert institution_level(uow, "H1") == 2
    assert institution_level(uow, "H2") is None
    issue_institution(uow, "secret", NewInstitution(code="H3", name="no level"))
    assert institution_level(uow, "H3") is None


def test_staff_accounts_and_login(uow: UnitOfWork) -> None:
    with pytest.raises(InvalidField, match=r"^role: institutions use keys, not accounts$"):
        create_staff(uow, NewStaff(username="i", role=Role.INSTITUTION, password=PASSWORD))
    with pytest.raises(InvalidField, match=r"^psn_no: required for insured_person"):
        create_staff(uow, NewStaff(username="p", role=Role.INSURED_PERSON, password=PASSWORD))
    made = create_staff(uow, NewStaff(username="c", role=Role.ENROLMENT_CLERK, password=PASSWORD))
    assert (made.username, made.role, made.active) == ("c", "enrolment_clerk", True)
    with pytest.raises(AlreadyExists, match=r"^user c exists, or psn_no None is unknown$"):
        create_staff(uow, NewStaff(username="c", role=Role.ADMINISTRATOR, password=PASSWORD))

    token = log_in(uow, "c", PASSWORD, 60)
    assert token.role == "enrolment_clerk" and len(token.token) >= 32
    with pytest.raises(LoginRefused) as wrong:
        log_in(uow, "c", "not the password", 60)
    with pytest.raises(LoginRefused) as unknown:
        log_in(uow, "nobody", PASSWORD, 60)
    assert str(wrong.value) == str(unknown.value) == "unknown user or wrong password"
    assert (wrong.value.why, unknown.value.why) == (
        "wrong password or account deactivated",
        "unknown user",
    )
