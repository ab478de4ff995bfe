"""A claim at a village clinic or a pharmacy (``rules.institutions``): settled only for the med
types its kind settles and at its kind's level, with the insured area's parameters on the
claim's date; a hospital (or an institution not registered) as it is given."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from yibao.policy.vocab import InstitutionKind
from yibao.rules.institutions import check_claim_at, institution_terms
from yibao.services.common import PolicySource
from yibao.services.settlement.compute import Prepared
from yibao.store.repositories import ApiRepository
from yibao.store.uow import UnitOfWork


def institution_kinds(
    uow: UnitOfWork, codes: Iterable[str | None], known: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """{code: kind} of the registered institutions among ``codes``; those in ``known`` (kind,
    or None for a code not registered: read by the caller in the same transaction) are not
    read again."""
    known = known or {}
    wanted = {c for c in codes if c}
    found = {c: k for c, k in known.items() if c in wanted and k is not None}
    missing = {c for c in wanted if c not in known}
    return found | ApiRepository(uow.session).institution_kinds(missing) if missing else found


def code_of(inp: Prepared, institution: str | None = None) -> str | None:
    """The institution a prepared claim is settled at."""
    if inp.visit is not None:
        return inp.visit.fixmedins_code
    return inp.claim.fixmedins_code or institution


def check_institution(
    kinds: dict[str, str], inp: Prepared, policies: PolicySource, institution: str | None = None
) -> None:
    """Refuse (``InvalidField`` naming ``med_type`` or ``level``) a claim its institution's kind
    may not settle."""
    code = code_of(inp, institution)
    kind = kinds.get(code) if code else None
    if kind is None or kind == InstitutionKind.HOSPITAL.value:
        return
    terms = institution_terms(policies(inp.enrolment.pooling_area), kind, inp.claim.date)
    check_claim_at(terms, inp.med_type, inp.level)
