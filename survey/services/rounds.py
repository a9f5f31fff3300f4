"""The life of a round: create, open, close, release, and its invitation links.

Invariants: settings, questions and the org snapshot freeze at OPEN; the token secret is
destroyed at CLOSE together with every unused invitation; RELEASE opens the sealed answers
once, stores an immutable manifest, and nothing reads raw answers afterwards.

Decided elsewhere: who holds the opening key (:mod:`.custody`), when it and the sealed rows
are destroyed (:mod:`.retention`), the manifest cache (:mod:`.manifests`), participation
(:mod:`.participation`, rule in :mod:`survey.domain.participation`), the audit trail
(:mod:`.audit_trail`) and storage hygiene after a step (:mod:`.hygiene`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import delete, func, inspect, select, true
from sqlalchemy.orm import Session

from .. import clock
from ..domain import crypto, disclosure, rotation
from ..domain import manifest as manifests
from ..domain.crypto import CryptoError, key_label
from ..domain.custody import Share
from ..domain.disclosure import DisclosureError
from ..domain.manifest import BallotKey, Handout, Manifest
from ..domain.questions import BankError
from ..domain.release import (
    EarlierRelease,
    OpenedAnswer,
    ReleaseError,
    ReleaseInput,
    atom_id,
    build_manifest,
    digest,
    earlier_release,
    respondents_per_atom,
)
from ..models import (
    CheckIn,
    Comment,
    Invitation,
    Person,
    Program,
    Release,
    Response,
    Round,
    RoundMix,
    RoundStatus,
)
from . import audit_trail, ballotkeys, banks, custody, hygiene, locks, mixing, org, retention
from . import manifests as kept_manifests
from . import quarantine as quarantine_rows
from .custody import CustodyError


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


def get_round(session: Session, round_id: int) -> Round:
    """Return the round with this id or raise :class:`RoundError`."""
    found = session.get(Round, round_id)
    if found is None:
        raise RoundError(f"there is no round {round_id}.")
    return found


# Every column of a round, its deferred snapshot included: what a release reads.
_WHOLE_ROUND = tuple(column.key for column in inspect(Round).column_attrs)


def _lock(session: Session, rnd: Round, *, snapshot: bool = False) -> None:
    """Re-read the round with its row locked, so two requests cannot both move it on; with
    ``snapshot``, its snapshot too (deferred otherwise: it lists every eligible person).

    PostgreSQL: ``SELECT ... FOR UPDATE`` makes the second wait and then see the new status.
    SQLite ignores it; its writing transactions are serialised by ``BEGIN IMMEDIATE``.
    """
    session.refresh(rnd, _WHOLE_ROUND if snapshot else None, with_for_update=True)


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
    rnd.dp_epsilon = program.dp_epsilon  # DP (domain/noise.py) freezes with k
    rnd.items = banks.freeze(bank, asked)
    rnd.public_key = custody.new_opening_key(session, rnd, kek)
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
    :func:`.hygiene.scrub_storage` so no old page or log frame keeps what was destroyed."""
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


# Everything a round step can refuse with, each carrying a sentence for the operator.
REFUSALS = (RoundError, ReleaseError, CryptoError, DisclosureError, BankError, CustodyError)


def advance(
    session: Session,
    rnd: Round,
    step: str,
    kek: bytes,
    today: dt.date,
    *,
    quarantine: bool = False,
    shares: Sequence[Share] = (),
) -> str:
    """Move a round on by one step ("open", "close" or "release") and say what happened.

    The one place the admin page, the ``candor round`` commands and the tick go through;
    it raises one of :data:`REFUSALS`. The caller commits, then (after a step in
    :data:`.hygiene.SCRUBBING_STEPS`) calls :func:`.hygiene.scrub_storage`.

    :param quarantine: release without the sealed rows that fail to open (see
        :func:`release_round`); only an operator's explicit ``--quarantine`` sets it.
    :param shares: custodians' opened shares, for a release in custodian mode.
    """
    if step == "open":
        count = open_round(session, rnd, kek, today)
        return f"{rnd.label} is open: {count} personal links made; no email is sent yet."
    if step == "close":
        close_round(session, rnd, today)
        return f"{rnd.label} is closed; its unused links and link secret are destroyed."
    if step == "release":
        released = _release(session, rnd, kek, today, quarantine, shares)[1]
        units = released.units
        shown = sum(1 for u in units if u.shown)
        set_aside = released.quarantined
        aside = (
            f" {set_aside} sealed row(s) that failed to open were set aside." if set_aside else ""
        )
        return (
            f"{rnd.label} is released: {shown} of {len(units)} units published; "
            f"the disclosure audit passed.{aside} {retention.state(rnd)}"
        )
    raise RoundError(f"unknown step {step!r}: use open, close or release.")


def _history(
    session: Session, rnd: Round, before: int | None = None
) -> tuple[list[EarlierRelease], dict[int, int]]:
    """Return every earlier release for the across-rounds check, and each unit's largest
    head-count change of 1..k-1 against those whose snapshot has no members.

    Earlier means released before, whatever the rounds' numbers or programmes: round 1 may
    be released after round 2 (its custodians were away), and a second programme over the
    same roster may ask the same questions; either pair could be differenced. The caller
    holds the release turn (see :func:`_release`), so a release committed meanwhile is not
    missed either.

    :param before: a release id: only the releases made before it (to re-audit that one).
    """
    earlier: list[EarlierRelease] = []
    churn: dict[int, int] = {}
    if rnd.snapshot is None:
        return earlier, churn
    parents = org.parents_of(rnd.snapshot)
    direct = {int(u): c for u, c in rnd.snapshot["eligible"].items()}
    now = disclosure.subtree_counts(parents, direct)
    k = rnd.k or rnd.program.k
    rows = session.execute(
        select(Round.id, Round.snapshot, Round.shredded_on, Release.id, Release.atom_counts)
        .join(Release, Release.round_id == Round.id)
        .where(Round.id != rnd.id, Release.id < before if before is not None else true())
        .order_by(Release.id)  # the order they were made in
    ).all()
    # The manifests as this process keeps them (parsed once, kept under their digests), so a
    # worker that has shown the programme's results does not parse every earlier one again.
    # Read after the rows: every release they name was committed before this statement began,
    # so (under READ COMMITTED too) it sees them all; a release is never deleted.
    kept = {rid: found for (rid, _), found in kept_manifests.released(session)}
    for round_id, snapshot, shredded_on, release_id, counts in rows:
        manifest = kept[release_id]
        if snapshot and "members" in snapshot:
            respondents = _respondents(session, round_id, counts, shredded=shredded_on is not None)
            earlier.append(earlier_release(snapshot, manifest, respondents))
            continue
        for unit in manifest.units:
            change = abs(now.get(unit.id, 0) - unit.eligible)
            if unit.shown and unit.id in now and 0 < change < k:
                churn[unit.id] = max(churn.get(unit.id, 0), change)
    return earlier, churn


def history_before(session: Session, release: Release) -> list[EarlierRelease]:
    """Return the releases made before ``release`` as its across-rounds check reads them
    now (see :func:`_history`), to re-audit it against all of them."""
    return _history(session, release.round, before=release.id)[0]


def _respondents(
    session: Session, round_id: int, stored: dict[str, Any] | None, *, shredded: bool
) -> dict[str, int] | None:
    """Return a released round's respondents per atom: as recorded at release; for a release
    stored without them (before 0008, or after a downgrade below it), counted from its answers
    while they are kept; None once they are shredded too (see churn.History)."""
    if stored is not None:
        return {atom: int(n) for atom, n in stored.items()}
    return None if shredded else atom_counts(session, round_id)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the length of a release.

    A release keeps one object per respondent alive until its manifest is stored, and every
    full collection walks them all again: nine collections, 1.5 of the 14.5 CPU seconds of a
    100,000-answer release. It makes no reference cycles worth collecting meanwhile.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def release_round(
    session: Session,
    rnd: Round,
    kek: bytes,
    today: dt.date,
    *,
    quarantine: bool = False,
    shares: Sequence[Share] = (),
) -> Release:
    """Open the round's answers once, decide what may be published and store the manifest.

    A sealed row that fails to open is never dropped silently: the release stops with a
    :class:`RoundError` naming how many rows failed and which labels they claim, unless
    ``quarantine`` is set, in which case they are left out, moved aside still sealed, and
    counted in the manifest. The round's private key comes from :mod:`.custody` (``shares``
    in custodian mode); once the manifest is stored, :mod:`.retention` destroys it and the
    sealed rows, now or after the programme's retention period.
    """
    return _release(session, rnd, kek, today, quarantine, shares)[0]


@_collector_paused()
def _release(
    session: Session,
    rnd: Round,
    kek: bytes,
    today: dt.date,
    quarantine: bool,
    shares: Sequence[Share],
) -> tuple[Release, Manifest]:
    """Do :func:`release_round`; return the release and the manifest it stored, as built."""
    _lock(session, rnd, snapshot=True)
    if rnd.status is not RoundStatus.CLOSED:
        raise RoundError(f"round {rnd.id} is {rnd.status.value}; only a closed round is released.")
    if rnd.snapshot is None or rnd.items is None:
        raise RoundError(f"round {rnd.id} was never opened properly.")
    private = custody.opening_key(session, rnd, kek, shares)
    failed: list[quarantine_rows.FailedRow] = []
    answers = []
    # Plain rows, not ORM objects: the release only reads them, and 10,000 objects in the
    # session cost more to build, and to synchronise when retention deletes them, than opening.
    round_id = rnd.id
    conn = session.connection()
    for row in conn.execute(mixing.SEALED_RESPONSES, {"round_id": round_id}):
        info = crypto.context("response", round_id, row.unit_id, row.band)
        try:
            opened = json.loads(crypto.open_sealed(row.sealed, private, info))["answers"]
        except (CryptoError, ValueError, KeyError, TypeError):
            failed.append(quarantine_rows.failed_response(_stored(session, Response, row.id)))
            continue
        answers.append(OpenedAnswer(row.unit_id, row.band, opened))
    comments = []
    for c in conn.execute(mixing.SEALED_COMMENTS, {"round_id": round_id}):
        info = crypto.context("comment", round_id, c.unit_id, "")
        try:
            text = json.loads(crypto.open_sealed(c.sealed, private, info))["text"]
        except (CryptoError, ValueError, KeyError, TypeError):
            failed.append(quarantine_rows.failed_comment(_stored(session, Comment, c.id)))
            continue
        comments.append((c.unit_id, text))
    if failed and not quarantine:
        raise RoundError(quarantine_rows.refusal(rnd.id, failed, rnd.snapshot))
    # The roster's names mask comments; without comments they are not read.
    names = list(session.scalars(select(Person.name).where(Person.name != ""))) if comments else []
    # Releases take turns from here to their commit, of every programme: the second reads
    # the first in its history. (Taken after the opening, which is most of a release's time.)
    locks.take_turn(session.connection(), "release")
    earlier, churn = _history(session, rnd)
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
        churn=churn,
        earlier=earlier,
        quarantined=len(failed),
        dp_epsilon=rnd.dp_epsilon,
    )
    keys, handouts = _ballot_facts(session, rnd)
    built = replace(build_manifest(data), ballot_keys=keys, links_handed_out=handouts)
    manifest = manifests.serialise(built)
    # Respondents per atom, recorded (never published) so the release stays auditable after
    # retention shreds the rows; the quarantined rows are not among them.
    counts = respondents_per_atom(answers)
    release = Release(
        round_id=rnd.id,
        released_on=today,
        manifest=manifest,
        digest=digest(manifest),
        atom_counts=dict(counts),
    )
    session.add(release)
    quarantine_rows.set_aside(session, rnd.id, failed)
    rnd.status = RoundStatus.RELEASED  # written with the retention's dates, in one UPDATE
    kept = not retention.after_release(session, rnd, today, written=built)
    if kept and session.get_bind().dialect.name == "postgresql":
        # Sealed rows kept for the retention period: rewritten in random order. (Rows shredded
        # just now are not: rewriting them would only add dead copies for the scrub.)
        hygiene.rewrite_in_random_order(session, Response, rnd.id)
        hygiene.rewrite_in_random_order(session, Comment, rnd.id)
        session.flush()
    return release, built


def _stored(session: Session, model: type[Response] | type[Comment], row_id: bytes) -> Any:
    """Return the stored object of a sealed row that failed to open, for the quarantine."""
    found = session.get(model, row_id)
    assert found is not None
    return found


def _ballot_facts(
    session: Session, rnd: Round
) -> tuple[tuple[BallotKey, ...], tuple[Handout, ...]]:
    """Return what the manifest records of the round's ballots: every key's fingerprint (one
    per storage group, so a per-person key would show) and every hand-out of its links."""
    units = (rnd.snapshot or {}).get("units", {})
    keys = tuple(
        BallotKey(
            key_id=key_id,
            unit=units.get(str(unit_id), {}).get("path", ""),
            band=band,
            fingerprint=fingerprint,
        )
        for key_id, unit_id, band, fingerprint in ballotkeys.fingerprints(session, rnd.id)
    )
    handouts = tuple(
        Handout(at=event.at.strftime("%Y-%m-%d %H:%M"), by=event.role)
        for event in audit_trail.links_handed_out(session, rnd.id)
    )
    return keys, handouts


def atom_counts(session: Session, round_id: int) -> dict[str, int]:
    """Return respondents per atom (unit|band) of a round, counted without opening any answer."""
    rows = session.execute(
        select(Response.unit_id, Response.band, func.count())
        .where(Response.round_id == round_id)
        .group_by(Response.unit_id, Response.band)
    )
    return {atom_id(unit, band): count for unit, band, count in rows}


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
    detail = audit_trail.round_detail(rnd.id)
    done = audit_trail.first_event(session, audit_trail.LINKS_EXPORTED, detail)
    if done is not None:
        raise RoundError(
            f"the links of {rnd.label} were already exported by {done.actor} on "
            f"{done.at:%Y-%m-%d %H:%M} UTC; they are shown only once."
        )
    refuse_links_if_unlinkable(rnd)
    links = invitation_links(session, rnd, kek, public_url)
    audit_trail.record(session, actor, audit_trail.LINKS_EXPORTED, detail, now)
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
