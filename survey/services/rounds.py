"""The life of a round: create, open, close, release.

Invariants: settings, questions and the org snapshot freeze at OPEN; the token secret is
destroyed at CLOSE together with every unused invitation; RELEASE opens the sealed answers
once, stores an immutable manifest, and nothing reads raw answers afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import clock
from ..domain import crypto, disclosure, rotation
from ..domain.crypto import CryptoError
from ..domain.disclosure import DisclosureError
from ..domain.questions import BankError
from ..domain.release import (
    OpenedAnswer,
    ReleaseError,
    ReleaseInput,
    atom_id,
    build_manifest,
    digest,
)
from ..models import (
    AuditEvent,
    CheckIn,
    Comment,
    Invitation,
    ParticipationSnapshot,
    Person,
    Program,
    Release,
    Response,
    Round,
    RoundMix,
    RoundStatus,
    User,
)
from . import ballotkeys, banks, mixing, org
from . import quarantine as quarantine_rows


class RoundError(RuntimeError):
    """Raised when a round cannot move to the asked state; the message says why."""


@dataclass(frozen=True)
class Link:
    """One person's invitation link for an open round (never stored).

    ``url`` carries the code in the fragment (``/s/<round>#<code>``), which browsers never
    send to a server; ``entry_url`` is the survey page where the code can be typed instead,
    for mail clients that drop fragments. No link ever puts the code in a path.
    """

    person_id: int
    email: str
    name: str
    url: str
    code: str
    entry_url: str


def key_label(round_id: int, what: str) -> bytes:
    """Return the label binding a wrapped key to its round and purpose."""
    return f"candor/round/{round_id}/{what}".encode()


def get_round(session: Session, round_id: int) -> Round:
    """Return the round with this id or raise :class:`RoundError`."""
    found = session.get(Round, round_id)
    if found is None:
        raise RoundError(f"there is no round {round_id}.")
    return found


def _lock(session: Session, rnd: Round) -> None:
    """Re-read the round with its row locked, so two requests cannot both move it on.

    PostgreSQL: ``SELECT ... FOR UPDATE`` makes the second wait and then see the new status.
    SQLite ignores it; its writing transactions are serialised by ``BEGIN IMMEDIATE``.
    """
    session.refresh(rnd, with_for_update=True)


def create_round(session: Session, program: Program) -> Round:
    """Add the next DRAFT round of ``program``; the caller commits."""
    last = session.scalar(select(func.max(Round.number)).where(Round.program_id == program.id))
    new = Round(program_id=program.id, number=(last or 0) + 1, status=RoundStatus.DRAFT)
    session.add(new)
    session.flush()
    return new


def open_round(session: Session, rnd: Round, kek: bytes, today: dt.date) -> int:
    """Freeze settings and snapshot, create keys and invitations; return how many were invited."""
    _lock(session, rnd)
    if rnd.status is not RoundStatus.DRAFT:
        raise RoundError(
            f"round {rnd.id} is {rnd.status.value}, not draft; only a draft round opens."
        )
    program = rnd.program
    disclosure.check_k(program.k)
    bank = banks.get_bank(session, program.bank)
    try:
        asked = rotation.items_for_round(bank, rnd.number, program.rotation_every)
    except rotation.RotationError as exc:
        raise RoundError(f"the questions cannot be scheduled: {exc}.") from exc
    snapshot, people, labels = org.take_snapshot(session, program.k)
    if not people:
        raise RoundError("the roster has nobody to invite.")
    rnd.k, rnd.comment_k = program.k, program.comment_k
    rnd.items = banks.freeze(bank, asked)
    keys = crypto.new_round_keys(kek, key_label(rnd.id, "private"))
    rnd.public_key, rnd.wrapped_private_key = keys.public, keys.wrapped_private
    key_ids = ballotkeys.create_keys(session, rnd.id, [labels[p.id] for p in people], kek)
    # The mixing row exists from the start, so concurrent mixes always queue on its lock.
    session.add(RoundMix(round_id=rnd.id, mixed_at=clock.utcnow()))
    # Which ballot key each person's code names: roster facts (unit and band), never answers.
    rnd.snapshot = {**snapshot, "person_keys": {str(p.id): key_ids[labels[p.id]] for p in people}}
    secret = crypto.new_token().encode()
    rnd.wrapped_token_secret = crypto.wrap(secret, kek, key_label(rnd.id, "tokens"))
    invitations = []
    for p in people:
        key_id = key_ids[labels[p.id]]
        invitations.append(
            Invitation(
                token_hash=crypto.token_hash(access_code(secret, p.id, key_id)),
                round_id=rnd.id,
                unit_id=labels[p.id][0],
                band=labels[p.id][1],
                key_id=key_id,
            )
        )
    random.SystemRandom().shuffle(invitations)  # physical order must not follow the roster
    session.add_all(invitations)
    rnd.status = RoundStatus.OPEN
    rnd.opens_on = today
    session.flush()
    return len(invitations)


def access_code(secret: bytes, person_id: int, key_id: int) -> str:
    """Return one person's access code: their ballot key's number and their derived token."""
    return f"{key_id}.{crypto.derive_token(secret, str(person_id))}"


def invitation_links(session: Session, rnd: Round, kek: bytes, public_url: str) -> list[Link]:
    """Return every invited person's link, re-derived from the round secret while it exists."""
    if (
        rnd.status is not RoundStatus.OPEN
        or rnd.wrapped_token_secret is None
        or rnd.snapshot is None
    ):
        raise RoundError(
            f"round {rnd.id} has no link secret (it is not open, or strict mode discarded it)."
        )
    secret = crypto.unwrap(rnd.wrapped_token_secret, kek, key_label(rnd.id, "tokens"))
    ids = rnd.snapshot["people"]
    person_keys = rnd.snapshot["person_keys"]
    people = session.scalars(select(Person).where(Person.id.in_(ids)).order_by(Person.id))
    entry = f"{public_url.rstrip('/')}/s/{rnd.id}"
    links = []
    for person in people:
        code = access_code(secret, person.id, int(person_keys[str(person.id)]))
        links.append(Link(person.id, person.email, person.name, f"{entry}#{code}", code, entry))
    return links


def close_round(
    session: Session, rnd: Round, today: dt.date, now: dt.datetime | None = None
) -> None:
    """Stop accepting answers: mix the last ballots into storage, destroy the link secret,
    the ballot signing keys and every unused invitation. The caller commits, then calls
    :func:`scrub_storage` so no old page or log frame keeps what was destroyed."""
    _lock(session, rnd)
    if rnd.status is not RoundStatus.OPEN:
        raise RoundError(f"round {rnd.id} is {rnd.status.value}, not open.")
    mixing.mix(session, rnd.id, now or clock.utcnow())
    rnd.status = RoundStatus.CLOSED
    rnd.closes_on = today
    rnd.wrapped_token_secret = None
    ballotkeys.destroy_private_keys(session, rnd.id)
    session.execute(delete(Invitation).where(Invitation.round_id == rnd.id))
    session.execute(delete(CheckIn).where(CheckIn.round_id == rnd.id))
    session.flush()


# Steps after which the caller runs :func:`scrub_storage` (they mix or destroy something).
SCRUBBING_STEPS = ("close", "release")
# Everything a round step can refuse with, each carrying a sentence for the operator.
REFUSALS = (RoundError, ReleaseError, CryptoError, DisclosureError, BankError)


def advance(
    session: Session,
    rnd: Round,
    step: str,
    kek: bytes,
    today: dt.date,
    *,
    quarantine: bool = False,
) -> str:
    """Move a round on by one step ("open", "close" or "release") and say what happened.

    The one place the admin page, the ``candor round`` commands and the tick go through;
    it raises one of :data:`REFUSALS`. The caller commits, then (after a release) calls
    :func:`scrub_storage`.

    :param quarantine: release without the sealed rows that fail to open (see
        :func:`release_round`); only an operator's explicit ``--quarantine`` sets it.
    """
    if step == "open":
        count = open_round(session, rnd, kek, today)
        return f"{rnd.label} is open: {count} people invited."
    if step == "close":
        close_round(session, rnd, today)
        return f"{rnd.label} is closed; its unused links and link secret are destroyed."
    if step == "release":
        release = release_round(session, rnd, kek, today, quarantine=quarantine)
        units = release.manifest["units"]
        shown = sum(1 for u in units if u["shown"])
        set_aside = release.manifest.get("quarantined", 0)
        aside = (
            f" {set_aside} sealed row(s) that failed to open were set aside." if set_aside else ""
        )
        return (
            f"{rnd.label} is released: {shown} of {len(units)} units published; "
            f"the disclosure audit passed.{aside}"
        )
    raise RoundError(f"unknown step {step!r}: use open, close or release.")


def _churn(session: Session, rnd: Round) -> dict[int, int]:
    """Return each unit's change in eligible members since the programme's last release."""
    previous = session.scalar(
        select(Release)
        .join(Round, Release.round_id == Round.id)
        .where(Round.program_id == rnd.program_id, Round.number < rnd.number)
        .order_by(Round.number.desc())
        .limit(1)
    )
    if previous is None or rnd.snapshot is None:
        return {}
    before = {u["id"]: u["eligible"] for u in previous.manifest["units"]}
    parents = org.parents_of(rnd.snapshot)
    direct = {int(u): c for u, c in rnd.snapshot["eligible"].items()}
    now = disclosure.subtree_counts(parents, direct)
    return {unit: abs(now[unit] - before[unit]) for unit in now if unit in before}


def release_round(
    session: Session, rnd: Round, kek: bytes, today: dt.date, *, quarantine: bool = False
) -> Release:
    """Open the round's answers once, decide what may be published and store the manifest.

    A sealed row that fails to open is never dropped silently: the release stops with a
    :class:`RoundError` naming how many rows failed and which labels they claim, unless
    ``quarantine`` is set, in which case they are left out, moved aside still sealed, and
    counted in the manifest.
    """
    _lock(session, rnd)
    if rnd.status is not RoundStatus.CLOSED:
        raise RoundError(f"round {rnd.id} is {rnd.status.value}; only a closed round is released.")
    if rnd.snapshot is None or rnd.items is None or rnd.wrapped_private_key is None:
        raise RoundError(f"round {rnd.id} was never opened properly.")
    private = crypto.unwrap_private_key(rnd.wrapped_private_key, kek, key_label(rnd.id, "private"))
    failed: list[quarantine_rows.FailedRow] = []
    answers = []
    rows = []
    for row in session.scalars(select(Response).where(Response.round_id == rnd.id)):
        info = crypto.context("response", rnd.id, row.unit_id, row.band)
        try:
            opened = json.loads(crypto.open_sealed(row.sealed, private, info))["answers"]
        except (CryptoError, ValueError, KeyError, TypeError):
            failed.append(quarantine_rows.failed_response(row))
            continue
        answers.append(OpenedAnswer(row.unit_id, row.band, opened))
        rows.append(row)
    comments = []
    comment_rows = []
    for c in session.scalars(select(Comment).where(Comment.round_id == rnd.id)):
        info = crypto.context("comment", rnd.id, c.unit_id, "")
        try:
            text = json.loads(crypto.open_sealed(c.sealed, private, info))["text"]
        except (CryptoError, ValueError, KeyError, TypeError):
            failed.append(quarantine_rows.failed_comment(c))
            continue
        comments.append((c.unit_id, text))
        comment_rows.append(c)
    if failed and not quarantine:
        raise RoundError(quarantine_rows.refusal(rnd.id, failed, rnd.snapshot))
    names = list(session.scalars(select(Person.name).where(Person.name != "")))
    data = ReleaseInput(
        round_id=rnd.id,
        round_number=rnd.number,
        program=rnd.program.name,
        opens_on=rnd.opens_on.isoformat() if rnd.opens_on else "",
        closed_on=rnd.closes_on.isoformat() if rnd.closes_on else "",
        k=rnd.k or rnd.program.k,
        comment_k=rnd.comment_k or rnd.program.comment_k,
        bank=banks.frozen_bank(rnd),
        asked=tuple(rnd.items["asked"]),
        snapshot=rnd.snapshot,
        answers=answers,
        comments=comments,
        roster_names=names,
        churn=_churn(session, rnd),
        quarantined=len(failed),
    )
    manifest = {**build_manifest(data), **_ballot_facts(session, rnd)}
    release = Release(
        round_id=rnd.id, released_on=today, manifest=manifest, digest=digest(manifest)
    )
    session.add(release)
    quarantine_rows.set_aside(session, rnd.id, failed)
    rnd.status = RoundStatus.RELEASED
    if session.get_bind().dialect.name == "postgresql":
        _rewrite_in_random_order(session, rows)
        _rewrite_in_random_order(session, comment_rows)
    session.flush()
    return release


def _ballot_facts(session: Session, rnd: Round) -> dict[str, Any]:
    """Return what the manifest records of the round's ballots: every key's fingerprint (one
    per storage group, so a per-person key would show) and every hand-out of its links."""
    units = (rnd.snapshot or {}).get("units", {})
    return {
        "ballot_keys": [
            {
                "key_id": key.key_id,
                "unit": units.get(str(key.unit_id), {}).get("path", ""),
                "band": key.band,
                "fingerprint": key.fingerprint,
            }
            for key in ballotkeys.public_keys(session, rnd.id)
        ],
        "links_handed_out": [
            {"at": event.at.strftime("%Y-%m-%d %H:%M"), "by": event.role}
            for event in links_handed_out(session, rnd.id)
        ],
    }


def _rewrite_in_random_order(session: Session, rows: Sequence[Response | Comment]) -> None:
    """Rewrite rows in random order, so that on PostgreSQL neither heap order nor the ``xmin``
    a comment shared with its response (one transaction) says anything any more."""
    copies = [
        (type(row), {c.key: getattr(row, c.key) for c in row.__table__.columns}) for row in rows
    ]
    for row in rows:
        session.delete(row)
    session.flush()
    random.SystemRandom().shuffle(copies)
    session.add_all(model(**values) for model, values in copies)


def atom_counts(session: Session, round_id: int) -> dict[str, int]:
    """Return respondents per atom (unit|band) of a round, counted without opening any answer."""
    rows = session.execute(
        select(Response.unit_id, Response.band, func.count())
        .where(Response.round_id == round_id)
        .group_by(Response.unit_id, Response.band)
    )
    return {atom_id(unit, band): count for unit, band, count in rows}


# Parsed manifests kept per process (about 1-2 MB each for an organisation of 2,000 people).
MANIFESTS_KEPT = 128
_manifests: OrderedDict[tuple[int, str], dict[str, Any]] = OrderedDict()
_manifests_lock = threading.Lock()


def released_manifests(session: Session, program_id: int | None = None) -> list[dict[str, Any]]:
    """Return a programme's released manifests, oldest first, each parsed once per process.

    Only release ids and digests are read on every call; a manifest is loaded (and its JSON
    decoded) the first time its (id, digest) is seen. The digest is that of the manifest's
    canonical JSON, recorded at release and never changed, so a kept manifest is exactly the
    stored one. The returned mappings are shared between requests: never modify them.
    """
    query = (
        select(Release.id, Release.digest)
        .join(Round, Release.round_id == Round.id)
        .order_by(Round.program_id, Round.number)
    )
    if program_id is not None:
        query = query.where(Round.program_id == program_id)
    rows = session.execute(query).all()
    keys = [(int(rid), str(digest)) for rid, digest in rows]
    found: dict[tuple[int, str], dict[str, Any]] = {}
    with _manifests_lock:
        for key in keys:
            if key in _manifests:
                found[key] = _manifests[key]
    digests = dict(keys)
    missing = [rid for rid, digest in keys if (rid, digest) not in found]
    if missing:
        load = select(Release.id, Release.manifest).where(Release.id.in_(missing))
        for rid, manifest in session.execute(load):
            found[(rid, digests[rid])] = manifest
    with _manifests_lock:
        for key in keys:
            _manifests[key] = found[key]
            _manifests.move_to_end(key)
        while len(_manifests) > MANIFESTS_KEPT:
            _manifests.popitem(last=False)
    return [found[key] for key in keys]


PARTICIPATION_STEP = 5  # percent
FEWER_THAN_K = -1  # recorded when fewer than k have answered: nothing is shown


def participation_today(session: Session, rnd: Round, today: dt.date) -> int | None:
    """Return an open round's org-wide participation, rounded, fixed for the whole day.

    The first call of a day records the value; later calls that day return the same number,
    so watching the page cannot time anyone's answer more finely than a day. None until k
    people have answered, and never in steps finer than k people.
    """
    if rnd.status is not RoundStatus.OPEN or rnd.snapshot is None:
        return None
    found = session.get(ParticipationSnapshot, (rnd.id, today))
    if found is None:
        invited = len(rnd.snapshot["people"])
        left = (
            session.scalar(
                select(func.count()).select_from(Invitation).where(Invitation.round_id == rnd.id)
            )
            or 0
        )
        answered = invited - left
        if answered < (rnd.k or disclosure.DEFAULT_K) or not invited:
            value = FEWER_THAN_K
        else:
            # The step is never finer than k people, so a change of one answer rarely shows.
            step = PARTICIPATION_STEP * math.ceil(
                100.0 * (rnd.k or disclosure.DEFAULT_K) / invited / PARTICIPATION_STEP
            )
            value = int(step * round(100.0 * answered / invited / step))
        found = ParticipationSnapshot(round_id=rnd.id, day=today, pct_rounded=value)
        try:
            with session.begin_nested():  # another request may record the same day at once
                session.add(found)
        except IntegrityError:
            found = session.get(ParticipationSnapshot, (rnd.id, today))
            assert found is not None
    return None if found.pct_rounded == FEWER_THAN_K else found.pct_rounded


LINKS_EXPORTED = "links_exported"
LINKS_PRINTED = "links_printed"


def forget_secret_if_strict(session: Session, rnd: Round) -> None:
    """In strict mode, destroy the link secret once links have been handed out, and have the
    next scrub make storage forget its old copies."""
    if rnd.program.strict_links:
        forget_secret(session, rnd)


def forget_secret(session: Session, rnd: Round) -> None:
    """Destroy the round's link secret; the next scrub (at the latest the next tick) removes
    the old row versions that still hold it."""
    rnd.wrapped_token_secret = None
    mixing.mark_scrub_pending(session)


def export_links_once(
    session: Session, rnd: Round, kek: bytes, public_url: str, actor: str, now: dt.datetime
) -> list[Link]:
    """Return every invited person's link for a mail merge, once per round, and record it.

    A second export is refused: links that exist in one spreadsheet are easier to keep track
    of (and to delete) than links that can be printed again and again.
    """
    detail = f"round={rnd.id}"
    done = session.scalar(
        select(AuditEvent).where(AuditEvent.action == LINKS_EXPORTED, AuditEvent.detail == detail)
    )
    if done is not None:
        raise RoundError(
            f"the links of {rnd.label} were already exported by {done.actor} on "
            f"{done.at:%Y-%m-%d %H:%M} UTC; they are shown only once."
        )
    refuse_links_if_unlinkable(rnd)
    links = invitation_links(session, rnd, kek, public_url)
    session.add(AuditEvent(at=now, actor=actor, action=LINKS_EXPORTED, detail=detail))
    forget_secret_if_strict(session, rnd)
    session.flush()
    return links


def refuse_links_if_unlinkable(rnd: Round) -> None:
    """Refuse to hand out links of a programme that requires unlinkable ballots.

    Whoever holds other people's links can answer for all members of a group but one and
    subtract; such a programme sends links only by email.
    """
    if rnd.program.unlinkable_required:
        raise RoundError(
            f"{rnd.program.name} requires unlinkable ballots, so its links are only sent by "
            "email, never exported or printed."
        )


@dataclass(frozen=True)
class LinksHandedOut:
    """That a round's links left Candor other than by email: when, and by which role."""

    at: dt.datetime
    role: str


def links_handed_out(session: Session, round_id: int) -> list[LinksHandedOut]:
    """Return every export or printing of a round's links, oldest first (for the survey page
    and the round's privacy manifest)."""
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action.in_((LINKS_EXPORTED, LINKS_PRINTED)),
            AuditEvent.detail == f"round={round_id}",
        )
        .order_by(AuditEvent.at)
    )
    found = []
    for event in events:
        role = session.scalar(select(User.role).where(User.email == event.actor))
        found.append(
            LinksHandedOut(event.at, f"an {role.value} account" if role else "the operator")
        )
    return found


def record(session: Session, actor: str, action: str, detail: str, now: dt.datetime) -> None:
    """Record a staff action in the audit trail (never anything about a respondent)."""
    session.add(AuditEvent(at=now, actor=actor, action=action, detail=detail))


def scrub_storage(engine: Engine) -> bool:
    """After a step that mixed or destroyed something, make storage forget old versions.

    See :func:`survey.services.mixing.scrub`; returns whether it fully did.
    """
    return mixing.scrub(engine)
