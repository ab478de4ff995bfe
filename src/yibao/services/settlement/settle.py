"""Pre-settlement (2206) and settlement (2207): one claim, or many in one transaction settled
in rounds (claims of one person, or sharing a personal account, one after the other)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from yibao.domain.errors import (
    InvalidField,
    NotFound,
    RecordError,
    RequestConflict,
    SettlementRefused,
)
from yibao.domain.fees import LineSums
from yibao.domain.ids import NotStored
from yibao.domain.ledger import AccountRef
from yibao.domain.registry import MutualAidLink, Person
from yibao.domain.settlement import Claim, Settlement, SettlementStatus, Visit
from yibao.policy import ParameterError
from yibao.policy.vocab import MedType
from yibao.services import epidemics
from yibao.services.common import PolicySource, policy_for
from yibao.services.person_file import FIRST_PAID, PersonFile, files_of, read_files
from yibao.services.settlement.answer import answer_from_json, answer_json
from yibao.services.settlement.claims import ClaimRequest, Outcome, check_claim
from yibao.services.settlement.common import new_id, people
from yibao.services.settlement.compute import Prepared, compute_all, paying_link, prepare
from yibao.services.settlement.institutions import check_institution, institution_kinds
from yibao.services.settlement.write import store_round
from yibao.services.supervision.online import refuse_on_lines, refuse_on_visit
from yibao.store.repositories import StoredSettlement
from yibao.store.uow import UnitOfWork

CHRONIC = MedType.CHRONIC.value


def presettle(
    uow: UnitOfWork,
    claim: Claim,
    *,
    policies: PolicySource = policy_for,
    lines: LineSums | None = None,
) -> Settlement:
    """Pre-settlement (2206): the full breakdown; nothing is stored or locked. ``lines``: the
    visit's live lines summed with lines not stored (``fees.preview_upload``), instead of the
    stored ones."""
    check_claim(claim)
    with uow:
        person_of = people(
            uow, [claim.person] + ([claim.mutual_aid_from] if claim.mutual_aid_from else [])
        )
        person = person_of(claim.person)
        if person is None:
            raise NotFound("person", claim.person)
        if person.id is None:
            raise NotStored("person")
        files, terms = read_files(uow, [person])
        file = files[person.id]
        owner = person_of(claim.mutual_aid_from) if claim.mutual_aid_from else None
        link = paying_link(file, claim, owner)
        visit = uow.settlements.visit(claim.mdtrt_id) if claim.mdtrt_id else None
        refs = [AccountRef.personal(person.id)] + (
            [AccountRef.personal(link.owner_id)] if link else []
        )
        state = uow.settlements.state(person.id, claim.date.year)
        if lines is None and visit is not None and visit.id is not None:
            lines = uow.fees.sums([visit.id]).get(visit.id)
        balances = uow.ledger.balances(refs)
        inp = prepare(file, claim, state, visit, link, balances, policies, lines=lines)
        kinds = institution_kinds(uow, [visit.fixmedins_code if visit else claim.fixmedins_code])
        check_institution(kinds, inp, policies)
        (inp,), (covered,) = epidemics.apply(uow, [inp], terms)
        c = epidemics.with_reason(compute_all([inp])[0], covered)
    answer = dataclasses.replace(c.answer, mdtrt_id=claim.mdtrt_id)
    return Settlement(answer, person.id, None, answer_json(answer))


def replay(stored: StoredSettlement, claim: Claim, digest: str) -> Settlement:
    """The first answer to a repeated request id; a different claim under it is refused."""
    if stored.request_digest != digest:
        raise RequestConflict(
            f"request {stored.request_id}", f"already used for settlement {stored.setl_id}"
        )
    return Settlement(
        answer=answer_from_json(stored.response),
        person_id=stored.person_id,
        status=SettlementStatus.SETTLED,
        response=stored.response,
        transaction_id=stored.transaction_id,
        replayed=True,
    )


def settle(
    uow: UnitOfWork,
    claim: Claim,
    request_id: str | None = None,
    *,
    policies: PolicySource = policy_for,
    institution: str | None = None,
) -> Settlement:
    """Settlement (2207): computed by the kernel, stored with its layers, funds posted as one
    balanced ledger transaction and the year-to-date state moved, all in one database
    transaction. The same ``request_id`` (msgid) is settled once: a repeat returns the first
    answer; a different claim under a used request id is refused."""
    request = ClaimRequest(claim, request_id or new_id("R"), institution)
    try:
        outcome = settle_many(uow, [request], policies=policies)[0]
    except IntegrityError:
        # A concurrent request with the same id won the race: answer as it did.
        with uow:
            stored = uow.settlements.by_request(request.request_id)
            if stored is None:
                raise
            return replay(stored, claim, claim.digest())
    if isinstance(outcome, Settlement):
        return outcome
    raise outcome


def settle_many(
    uow: UnitOfWork, requests: Sequence[ClaimRequest], *, policies: PolicySource = policy_for
) -> list[Outcome]:
    """Settle many claims in one database transaction (group commit): one read per table for
    the whole batch, one kernel call per parameter table, one write per table. Each claim gets
    its own outcome: a refused claim does not stop the others, and its refusal is returned, not
    raised. A database error (e.g. a request id settled concurrently) rolls back everything and
    propagates."""
    with uow:
        batch = settle_within(uow, requests, policies=policies)
        if batch.wrote:
            uow.commit()
    return batch.outcomes


@dataclass(frozen=True)
class Batch:
    """What ``settle_within`` did: each request's outcome, the person it named (None if not
    found), and whether anything was written."""

    outcomes: list[Outcome]
    person_ids: list[int | None]
    wrote: bool


def settle_within(
    uow: UnitOfWork,
    requests: Sequence[ClaimRequest],
    *,
    policies: PolicySource = policy_for,
    kinds: Mapping[str, str | None] | None = None,
) -> Batch:
    """``settle_many`` inside a unit of work the caller opened and commits (the API stores its
    answers and audit entries in the same transaction). Claims of one person (or sharing a
    personal account through mutual aid) are settled one after the other, each seeing the
    previous one's state. ``kinds``: institutions' kinds the caller read in this transaction
    (None for a code not registered), not read again (``institutions.institution_kinds``)."""
    outcomes: list[Outcome | None] = [None] * len(requests)
    person_ids: list[int | None] = [None] * len(requests)
    for i, r in enumerate(requests):
        try:
            check_claim(r.claim)
            if len(r.request_id) > 64:
                raise InvalidField("request_id", "longer than 64 characters")
        except (RecordError, ParameterError) as exc:
            outcomes[i] = exc
    todo = [i for i, o in enumerate(outcomes) if o is None]
    wrote = False
    while todo:
        todo, written = _settle_round(uow, requests, todo, outcomes, person_ids, policies, kinds)
        wrote = wrote or written
    done = [o for o in outcomes if o is not None]
    assert len(done) == len(requests)
    return Batch(done, person_ids, wrote)


def _med_type(claim: Claim, visits: Mapping[str, Visit]) -> str | None:
    """The med type a claim is settled as (``compute.visit_for``: its registered visit's)."""
    visit = visits.get(claim.mdtrt_id) if claim.mdtrt_id else None
    return visit.med_type if visit is not None else claim.med_type


def _settle_round(
    uow: UnitOfWork,
    requests: Sequence[ClaimRequest],
    todo: list[int],
    outcomes: list[Outcome | None],
    person_ids: list[int | None],
    policies: PolicySource,
    known_kinds: Mapping[str, str | None] | None = None,
) -> tuple[list[int], bool]:
    """Settle the requests of ``todo`` that touch distinct persons, accounts and request ids;
    returns the others (for the next round) and whether anything was written."""
    claims = {i: requests[i].claim for i in todo}
    person_of = people(
        uow,
        [c.person for c in claims.values()]
        + [c.mutual_aid_from for c in claims.values() if c.mutual_aid_from],
    )
    now: list[tuple[int, Person]] = []
    later: list[int] = []
    persons_taken: set[int] = set()
    ids_taken: set[str] = set()
    for i in todo:
        person = person_of(claims[i].person)
        if person is None:
            outcomes[i] = NotFound("person", claims[i].person)
            continue
        if person.id is None:
            raise NotStored("person")
        person_ids[i] = person.id
        if person.id in persons_taken or requests[i].request_id in ids_taken:
            later.append(i)
            continue
        persons_taken.add(person.id)
        ids_taken.add(requests[i].request_id)
        now.append((i, person))
    # the persons' states first (the lock serialises their settlements), then the visits (in
    # id order, before their fee lines are summed: no upload slips in between); then one read
    # begun after both locks (a statement that waits for a lock does not see what the
    # transaction it waited for committed in other rows; one begun after, does): the request
    # ids (a duplicate that waited for the lock finds the first one's settlement and replays
    # it), the files, the visits' settlements and their lines summed
    states = uow.settlements.lock_states((p.id or 0, claims[i].date.year) for i, p in now)
    visits = uow.settlements.visits((c.mdtrt_id for c in claims.values() if c.mdtrt_id), lock=True)
    read = uow.person_files.for_round(
        sorted({p.id or 0 for _, p in now}),
        paid=FIRST_PAID,
        before=max((claims[i].date.year for i, _ in now), default=None),
        certified=sorted({p.id or 0 for i, p in now if _med_type(claims[i], visits) == CHRONIC}),
        visit_ids=[v.id for v in visits.values() if v.id],
        request_ids=[requests[i].request_id for i, _ in now],
    )
    fresh = []
    for i, person in now:
        found = read.stored.get(requests[i].request_id)
        if found is None:
            fresh.append((i, person))
            continue
        try:
            outcomes[i] = replay(found, claims[i], claims[i].digest())
        except RequestConflict as exc:
            outcomes[i] = exc
    files = files_of({p.id or 0: p for _, p in fresh}, read.files)
    terms, settled, bills = read.files.epidemics, read.settled, read.sums
    kinds = institution_kinds(
        uow,
        [c.fixmedins_code for c in claims.values()]
        + [v.fixmedins_code for v in visits.values()]
        + [requests[i].institution for i in todo],
        known_kinds,
    )

    # the personal accounts each claim may spend; an account shared with an earlier claim of
    # this round (family mutual aid) waits for the next round
    plans: list[tuple[int, PersonFile, MutualAidLink | None]] = []
    accounts_taken: set[int] = set()
    for i, person in fresh:
        claim, file = claims[i], files[person.id or 0]
        try:
            owner = person_of(claim.mutual_aid_from) if claim.mutual_aid_from else None
            link = paying_link(file, claim, owner)
        except (RecordError, ParameterError) as exc:
            outcomes[i] = exc
            continue
        touched = {file.id} | ({link.owner_id} if link is not None else set())
        if touched & accounts_taken:
            later.append(i)
            continue
        accounts_taken |= touched
        plans.append((i, file, link))
    accounts = uow.ledger.balances(
        (AccountRef.personal(pid) for pid in sorted(accounts_taken)), lock=True
    )

    ready: list[int] = []
    inputs: list[Prepared] = []
    for i, file, link in plans:
        claim = claims[i]
        visit = visits.get(claim.mdtrt_id) if claim.mdtrt_id else None
        try:
            state = states[(file.id, claim.date.year)]
            inp = prepare(
                file,
                claim,
                state,
                visit,
                link,
                accounts,
                policies,
                requests[i].institution,
                bills.get(visit.id) if visit is not None and visit.id is not None else None,
            )
            check_institution(kinds, inp, policies, requests[i].institution)
            if visit is not None and visit.id in settled:
                raise SettlementRefused(
                    f"visit {visit.mdtrt_id}", f"already settled ({settled[visit.id]})"
                )
            # supervision's refusing rules: over the visit and the person, then its lines
            policy = policies(inp.enrolment.pooling_area)
            refuse_on_visit(uow, visit, file.person, policy, claim.date)
            if visit is not None and inp.lines is not None:
                refuse_on_lines(uow, visit, inp.lines, policy, claim.date)
        except (RecordError, ParameterError) as exc:
            outcomes[i] = exc
            continue
        ready.append(i)
        inputs.append(inp)
    if not ready:
        return sorted(later), False
    inputs, covered = epidemics.apply(uow, inputs, terms)
    done = [
        epidemics.with_reason(c, cv) for c, cv in zip(compute_all(inputs), covered, strict=True)
    ]
    store_round(uow, requests, ready, done, outcomes)
    if any(covered):
        setl_ids = [o.answer.setl_id if isinstance(o, Settlement) else None for o in outcomes]
        epidemics.mark(uow, [(setl_ids[i], cv) for i, cv in zip(ready, covered, strict=True)])
    return sorted(later), True
