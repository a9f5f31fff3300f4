"""Retention: once a round is released, its opening key and sealed answers are destroyed.

Invariants:

- At release the respondents per atom (unit|band) are stored with the release, never
  published, so ``candor audit`` re-checks the release from them once the rows are gone.
- A released round is shredded at release by default, or on the first ``candor tick`` on or
  after its ``shred_after`` day when its programme keeps answers sealed for N days. Only a
  release whose stored manifest still matches its digest and passed its audit is shredded.
- Shredding destroys the round's opening key (instance-wrapped, or its custody key's shares
  and any pending ones) and deletes its sealed answers and comments; then no key anywhere
  can open the round. Quarantined rows stay, sealed, for the investigation they were kept
  for (they failed authentication, and without the key nobody can open them anyway).
  Manifests, charts and CSVs read only the release, so they keep working.
- Storage forgets: the shred marks a scrub pending, and the caller scrubs after committing
  (SQLite ``secure_delete`` + WAL checkpoint, PostgreSQL ``VACUUM FULL``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from .. import clock
from ..domain import manifest as manifests
from ..domain.release import digest
from ..models import Comment, InboxEntry, Release, Response, Round, RoundStatus
from . import audit_trail, custody, mixing

ACTOR = "retention"
SHREDDED = "round_shredded"  # the audit trail's action
MAX_RETENTION_DAYS = 3 * 366  # a programme may keep sealed answers at most about three years


class RetentionError(RuntimeError):
    """Raised when a round cannot be shredded; the message says why (nothing is lost)."""


def after_release(
    session: Session, rnd: Round, today: dt.date, written: manifests.Manifest
) -> bool:
    """Shred a just-released round now, or set the day its shredding is due; ``written`` is
    the manifest the release stored in this transaction. Return whether it was shredded."""
    rnd.shred_after = today + dt.timedelta(days=max(0, rnd.program.retention_days))
    if rnd.shred_after <= today:
        shred(session, rnd, today, written=written)
        return True
    session.flush()
    return False


def shred(
    session: Session,
    rnd: Round,
    today: dt.date,
    actor: str = ACTOR,
    *,
    written: manifests.Manifest | None = None,
) -> None:
    """Destroy a released round's opening key and delete its sealed answers and comments.

    The stored release is checked first (its digest and its audit), unless ``written`` is
    the manifest the release stored in this very transaction, whose audit is then checked.
    The caller commits, then scrubs storage (:func:`.hygiene.scrub_storage`).
    """
    if rnd.status is not RoundStatus.RELEASED:
        raise RetentionError(f"round {rnd.id} is not released; only a released round is shredded.")
    if rnd.shredded_on is not None:
        return
    if written is not None:
        intact = written.audit.ok
    else:
        release = session.scalar(select(Release).where(Release.round_id == rnd.id))
        if release is None:
            raise RetentionError(
                f"round {rnd.id} is not released; only a released round is shredded."
            )
        intact = (
            digest(release.manifest) == release.digest
            and manifests.parse(release.manifest).audit.ok
        )
    if not intact:
        raise RetentionError(
            f"round {rnd.id}'s stored release does not match its digest or its audit: its "
            "sealed answers are kept; run `candor audit` on it and investigate."
        )
    custody.destroy(session, rnd.id)
    for table in (Response, Comment, InboxEntry):
        session.execute(delete(table).where(table.round_id == rnd.id))
    # Both in one UPDATE of the round (a flush between them would write two).
    rnd.wrapped_private_key = None
    rnd.shredded_on = today
    audit_trail.record(session, actor, SHREDDED, audit_trail.round_detail(rnd.id), clock.utcnow())
    mixing.mark_scrub_pending(session)
    session.flush()


def shred_due(factory: sessionmaker[Session], today: dt.date) -> list[str]:
    """Shred every released round whose retention has run out; return what was done.

    Also deletes custodians' pending shares whose time ran out. Each round is shredded in
    its own transaction; storage is scrubbed once afterwards.
    """
    lines = []
    with factory() as session:
        due = list(
            session.scalars(
                select(Round.id)
                .where(
                    Round.status == RoundStatus.RELEASED,
                    Round.shredded_on.is_(None),
                    Round.shred_after <= today,
                )
                .order_by(Round.id)
            )
        )
        if custody.wipe_pending(session, now=clock.utcnow()):
            session.commit()
    for round_id in due:
        with factory() as session:
            rnd = session.get(Round, round_id, with_for_update=True)
            assert rnd is not None
            try:
                shred(session, rnd, today)
            except RetentionError as exc:
                session.rollback()
                lines.append(f"kept {rnd.program.name} {rnd.label}: {exc}")
                continue
            label = f"{rnd.program.name} {rnd.label}"
            session.commit()
            lines.append(f"shredded {label}: its opening key and sealed answers are destroyed")
    if due:
        with factory() as session:
            mixing.scrub(session.get_bind().engine)
    return lines


def privacy_note(session: Session, rnd: Round) -> str:
    """Return what the privacy page says of a round's sealed answers: who opens them, and
    when they go."""
    if rnd.shredded_on is not None:
        return f"Destroyed on {rnd.shredded_on:%Y-%m-%d}: nobody can open them any more."
    quorum = custody.quorum_of(session, rnd.id)
    held = len(custody.holders(session, rnd.id))
    by = f"{quorum} of {held} named custodians together" if quorum else "the instance key"
    if rnd.shred_after is not None:
        return f"Kept sealed until {rnd.shred_after:%Y-%m-%d} (opened only with {by})."
    return f"Sealed; opened once, at release, only with {by}."


def state(rnd: Round) -> str:
    """Return one sentence on what remains of a released round's sealed answers."""
    if rnd.shredded_on is not None:
        return (
            f"Its opening key and sealed answers were destroyed on {rnd.shredded_on:%Y-%m-%d}; "
            "nobody can open them any more."
        )
    if rnd.shred_after is not None:
        return f"Its sealed answers are kept for re-analysis until {rnd.shred_after:%Y-%m-%d}."
    return ""
