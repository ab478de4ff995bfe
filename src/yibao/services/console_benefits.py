"""The staff console's benefit use cases (待遇经办): certified chronic and special diseases
(门诊慢特病), major epidemics (重大疫情), the cross-region clearing between pooling areas
(异地就医清算) and the maternity allowance (生育津贴).

Each function calls the service the command line and the API call (``services.chronic``,
``services.epidemics``, ``services.cross_region``, ``services.maternity``) and writes its audit
entry (actor ``staff:<username>``, ``detail`` starting ``console``): every read and every write.
Nothing here computes a benefit; the console (``yibao.web.benefits``) only checks, calls and
renders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from yibao.domain.epidemics import Epidemic
from yibao.domain.masking import mask_national_id
from yibao.policy import fen_to_yuan
from yibao.rules.maternity import Birth
from yibao.services import chronic, cross_region, epidemics, maternity
from yibao.services.chronic import CertificationView
from yibao.services.console import Staff, console_audit
from yibao.services.cross_region import PairCleared, PairStatement
from yibao.services.maternity import AllowancePaid
from yibao.store.uow import UnitOfWork

# ------------------------------------------------------------------ chronic and special diseases


@dataclass(frozen=True)
class ChronicFile:
    """A person's certifications and the diseases of their area's list (code, name) on a day."""

    certifications: list[CertificationView]
    diseases: list[tuple[str, str]]


def chronic_file(uow: UnitOfWork, staff: Staff, person_id: int, on: dt.date) -> ChronicFile:
    """The person's certifications, oldest first, and the diseases they may be certified for on
    ``on``; audited (``chronic:read``)."""
    found = chronic.listing(uow, person_id)
    diseases = chronic.diseases_for(uow, person_id, on)
    console_audit(uow, staff, "chronic:read", f"{len(found)} certifications", person_id=person_id,
                  target=f"person:{person_id}")  # fmt: skip
    return ChronicFile(found, diseases)


@dataclass(frozen=True)
class CertificationPage:
    certification: CertificationView
    person_id: int
    history: list[dict[str, Any]]


def certification_page(uow: UnitOfWork, staff: Staff, cert_id: int) -> CertificationPage:
    """One certification, its person and its trail of actions; audited (``chronic:read``)."""
    view, person_id = chronic.certification(uow, cert_id)
    trail = chronic.history(uow, cert_id)
    console_audit(uow, staff, "chronic:read", "certification", person_id=person_id,
                  target=f"chronic:{cert_id}")  # fmt: skip
    return CertificationPage(view, person_id, trail)


def _certified(uow: UnitOfWork, staff: Staff, what: str, made: CertificationView) -> None:
    _, person_id = chronic.certification(uow, made.id)
    console_audit(uow, staff, "chronic:certify",
                  f"{what} {made.disease} {made.valid_from} to {made.valid_to} ({made.status})",
                  person_id=person_id, target=f"chronic:{made.id}")  # fmt: skip


def certify(
    uow: UnitOfWork, staff: Staff, person_id: int, disease: str, valid_from: dt.date | None
) -> CertificationView:
    """Certify the person for a listed disease (``chronic.certify``); audited."""
    made = chronic.certify(uow, person_id, disease, valid_from, actor=staff.actor)
    _certified(uow, staff, "certify", made)
    return made


def renew(uow: UnitOfWork, staff: Staff, cert_id: int) -> CertificationView:
    """Renew a certification (``chronic.renew``); audited."""
    made = chronic.renew(uow, cert_id, actor=staff.actor)
    _certified(uow, staff, "renew", made)
    return made


def end(
    uow: UnitOfWork, staff: Staff, cert_id: int, last_day: dt.date | None, reason: str
) -> CertificationView:
    """End a certification on its last day (``chronic.end``); audited."""
    made = chronic.end(uow, cert_id, last_day, actor=staff.actor, reason=reason)
    _certified(uow, staff, "end", made)
    return made


# ------------------------------------------------------------------------------ epidemics


def epidemic_list(uow: UnitOfWork, staff: Staff) -> list[Epidemic]:
    """The declared epidemics; audited (``epidemic:read``)."""
    found = epidemics.epidemics(uow)
    console_audit(uow, staff, "epidemic:read", f"list; {len(found)} epidemics")
    return found


def epidemic_report(uow: UnitOfWork, staff: Staff, epidemic_id: int) -> dict[str, Any]:
    """An epidemic and the settlements it covered (``epidemics.report``); audited."""
    found = epidemics.report(uow, epidemic_id)
    console_audit(uow, staff, "epidemic:read", "report", target=f"epidemic:{epidemic_id}")
    return found


def declare(
    uow: UnitOfWork,
    staff: Staff,
    area: str,
    name: str,
    starts_on: dt.date,
    diseases: Iterable[str],
    groups: Iterable[str],
    ends_on: dt.date | None,
) -> Epidemic:
    """Declare an epidemic (``epidemics.declare``, which audits it as ``epidemic:declare``)."""
    return epidemics.declare(uow, area, name, starts_on, diseases, groups, ends_on,
                             actor=staff.actor, role=staff.role.value)  # fmt: skip


def end_epidemic(uow: UnitOfWork, staff: Staff, epidemic_id: int, ends_on: dt.date) -> Epidemic:
    """End an epidemic (``epidemics.end``, which audits it as ``epidemic:end``)."""
    return epidemics.end(uow, epidemic_id, ends_on, actor=staff.actor, role=staff.role.value)


def advance(
    uow: UnitOfWork, staff: Staff, epidemic_id: int, institution: str, fen: int, on: dt.date
) -> int:
    """Advance money to an institution for the epidemic (``epidemics.advance``); audited."""
    txn = epidemics.advance(uow, epidemic_id, institution, fen, on)
    console_audit(uow, staff, "epidemic:advance", f"{institution} {fen_to_yuan(fen)}",
                  target=f"epidemic:{epidemic_id}")  # fmt: skip
    return txn


def clear_advance(
    uow: UnitOfWork, staff: Staff, epidemic_id: int, institution: str, on: dt.date
) -> int:
    """Clear what the epidemic advanced to an institution (``epidemics.clear_advance``);
    audited. Returns the amount cleared (fen)."""
    _txn, fen = epidemics.clear_advance(uow, epidemic_id, institution, on)
    console_audit(uow, staff, "epidemic:clear", f"{institution} {fen_to_yuan(fen)}",
                  target=f"epidemic:{epidemic_id}")  # fmt: skip
    return fen


# -------------------------------------------------------------------- cross-region clearing


def _pair_target(month: str, insured_area: str | None, treating_area: str | None) -> str:
    return f"cross_region:{insured_area or '*'}:{treating_area or '*'}:{month}"


def cross_region_statements(
    uow: UnitOfWork,
    staff: Staff,
    month: str,
    insured_area: str | None,
    treating_area: str | None,
    *,
    lines: bool = False,
) -> list[PairStatement]:
    """The month's statement per pair of areas (``cross_region.statements``); audited
    (``funds:cross_region``)."""
    found = cross_region.statements(uow, month, insured_area, treating_area, lines=lines)
    console_audit(uow, staff, "funds:cross_region", f"read; {len(found)} pairs",
                  target=_pair_target(month, insured_area, treating_area))  # fmt: skip
    return found


def cross_region_clear(
    uow: UnitOfWork,
    staff: Staff,
    month: str,
    insured_area: str | None,
    treating_area: str | None,
    on: dt.date | None,
) -> list[PairCleared]:
    """Post the month's clearing of each pair (``cross_region.pay``: once per pair and month);
    audited with the references posted."""
    done = cross_region.pay(uow, month, insured_area, treating_area, on=on)
    posted = [c.statement.reference for c in done if c.posted]
    detail = f"cleared {len(posted)} pairs: {', '.join(posted)}"
    target = _pair_target(month, insured_area, treating_area)
    console_audit(uow, staff, "funds:cross_region", detail, target=target)
    return done


# --------------------------------------------------------------------- maternity allowance


def maternity_allowance(
    uow: UnitOfWork, staff: Staff, person_id: int, birth: Birth, wage: int | None
) -> AllowancePaid:
    """Pay the maternity allowance of a birth (``maternity.pay_allowance``); audited
    (``benefit:pay``). The person's ID is masked unless the role sees identities."""
    paid = maternity.pay_allowance(uow, person_id, birth, wage=wage)
    console_audit(uow, staff, "benefit:pay",
                  f"maternity allowance {fen_to_yuan(paid.allowance)} ({paid.leave_days} days)",
                  person_id=person_id, target=paid.reference)  # fmt: skip
    if staff.sees_identity:
        return paid
    return replace(paid, person=mask_national_id(paid.person) or "")
