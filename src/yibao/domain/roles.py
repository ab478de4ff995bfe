"""Roles and what each may do (角色与权限). Every API route and every ``infno`` names one action;
a caller whose role does not hold it is refused (and the refusal is audited)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    INSTITUTION = "institution"
    ENROLMENT_CLERK = "enrolment_clerk"
    SETTLEMENT_AUDITOR = "settlement_auditor"
    FUND_MANAGER = "fund_manager"
    ADMINISTRATOR = "administrator"
    INSURED_PERSON = "insured_person"


STAFF_ROLES = frozenset(Role) - {Role.INSTITUTION}

_I, _C, _A, _F, _D, _P = (
    Role.INSTITUTION,
    Role.ENROLMENT_CLERK,
    Role.SETTLEMENT_AUDITOR,
    Role.FUND_MANAGER,
    Role.ADMINISTRATOR,
    Role.INSURED_PERSON,
)

#: action -> roles allowed. Institutions are further limited to their own visits and
#: settlements, insured persons to their own file.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "tx:1101": frozenset({_I, _C, _A, _D}),
    "tx:2201": frozenset({_I}),
    "tx:2202": frozenset({_I}),
    "tx:2204": frozenset({_I}),
    "tx:2205": frozenset({_I}),
    "tx:2203": frozenset({_I}),
    "tx:2402": frozenset({_I}),
    "tx:2405": frozenset({_I}),
    "tx:5204": frozenset({_I, _A}),
    "tx:2206": frozenset({_I}),
    "tx:2207": frozenset({_I}),
    "tx:2208": frozenset({_I, _A}),
    "tx:2601": frozenset({_I}),
    "tx:5206": frozenset({_I, _A, _F, _D, _P}),
    "tx:3201": frozenset({_I, _A, _F, _D}),
    "tx:3202": frozenset({_I, _A, _F, _D}),
    "tx:9101": frozenset({_I}),
    "tx:9102": frozenset({_I, _A, _F, _D}),
    "person:read": frozenset({_C, _A, _D, _P}),
    "settlement:read": frozenset({_I, _A, _F, _D, _P}),
    "clearing:read": frozenset({_I, _F, _D}),
    "dip:read": frozenset({_F, _D}),
    "audit:read": frozenset({_D}),
    "admin:institutions": frozenset({_D}),
    "admin:staff": frozenset({_D}),
    # the staff console (and the command line's staff work): enrolling, recording a payment,
    # the funds and the ledger check
    "person:enrol": frozenset({_C, _D}),
    "person:pay": frozenset({_C, _D}),
    "funds:read": frozenset({_A, _F, _D}),
    # fund management (基金运行): the operation analysis, warnings and budgets
    "funds:analysis": frozenset({_F}),
    # the monthly clearing between pooling areas (异地就医清算): read and post
    "funds:cross_region": frozenset({_F}),
    # major epidemics (重大疫情): declared and ended by the administrator, read by fund managers
    # and administrators, the advances to institutions posted by fund managers
    "epidemic:declare": frozenset({_D}),
    "epidemic:read": frozenset({_F, _D}),
    "epidemic:advance": frozenset({_F}),
    # benefits paid to a person outside a settlement (待遇支付): the maternity allowance
    "benefit:pay": frozenset({_A, _D}),
    # certified chronic and special diseases (门诊慢特病认定): certify, renew, end; read
    "chronic:certify": frozenset({_C, _A, _D}),
    "chronic:read": frozenset({_C, _A, _D}),
    # supplementary commercial insurance (惠民保): the products and a person's purchases read by
    # staff; a purchase bought or cancelled at the counter (the clerk, the administrator); the
    # monthly statement of what each insurer owes read by fund managers and administrators, and
    # the insurer's payment of it recorded by fund managers
    "commercial:read": frozenset({_C, _A, _F, _D}),
    "commercial:buy": frozenset({_C, _D}),
    "commercial:statement": frozenset({_F, _D}),
    "commercial:collect": frozenset({_F}),
    # supervision findings (稽核): the auditor works them, the administrator reads them
    "findings:read": frozenset({_A, _D}),
    "findings:work": frozenset({_A}),
    # data comparison with other departments (数据比对): worklists and their actions
    "compare:read": frozenset({_C, _A, _D}),
    "compare:work": frozenset({_C}),
}

#: Roles that see national IDs, names and phones unmasked (an insured person: their own only).
UNMASKED = frozenset({_C, _D, _P})


def allowed(role: Role, action: str) -> bool:
    return role in PERMISSIONS.get(action, frozenset())
