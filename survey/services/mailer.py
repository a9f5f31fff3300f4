"""Sending a round's invitations and reminders by email, resumably: the delivery ledger.

Invariants:
- Everyone in the round's snapshot (everyone invited) gets one ledger row per kind of email
  (``deliveries``: unique round, person and kind). Reminders go to all of them: Candor cannot
  know who answered, and the ledger never records it.
- A row is claimed (``sending``) and committed before its message leaves, and marked ``sent``
  in its own commit after. A crash between the two leaves one row in ``sending``; the next run
  sends it again with the same ``Message-ID``. Over SMTP this is at-least-once, and receivers
  that drop a repeated Message-ID see it once; the file outbox is exactly-once, because a
  message's file is named after its Message-ID and rewriting it changes nothing. No row is
  ever skipped: each run picks up every row not yet sent.
- A run treats rows it finds in ``sending`` as left by a crash, so only one run at a time may
  work on one round's emails of one kind: :mod:`.mailjobs` (what commands, the tick and the
  admin page call) holds that job's lock on every app server around :func:`send_round_mail`.
- A message that fails alone is marked ``failed`` with a plain reason and retried by later
  runs, up to :data:`MAX_ATTEMPTS` in all. A server or connection failure stops the run and
  leaves the row as it was, so a wrong password does not burn every row's attempts.
- In a strict round, the link secret is destroyed as soon as no invitation is left to send;
  reminders then carry no link.
- Nothing here logs or returns a token or link: reports hold counts only.

This is the one use-case that commits by itself: the ledger must be durable before and after
each message, and no transaction is held open while a message is on the wire.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..domain import cadence
from ..domain.mail import (
    DeliveryStatus,
    MailContext,
    MailError,
    MailKind,
    build_message,
    message_id,
    sender_domain,
)
from ..models import Cadence, Delivery, Person, Round, RoundStatus
from . import rounds
from .transports import Mailer

__all__ = [
    "MAX_ATTEMPTS",
    "SendReport",
    "SessionFactory",
    "claimable",
    "count_rows",
    "ledger_counts",
    "rows_of",
    "send_round_mail",
]

MAX_ATTEMPTS = 5
BATCH_SIZE = 100
INTERRUPTED = (
    "interrupted while sending (it may have been delivered); "
    "it is sent again with the same Message-ID"
)
ERROR_MAX_CHARS = 500  # the ledger's column size

SessionFactory = Callable[[], Session]


@dataclass(frozen=True)
class SendReport:
    """What one run did, in counts only."""

    kind: MailKind
    invited: int  # ledger rows of this kind: everyone invited to the round
    sent_now: int
    sent_before: int
    failed: int  # failed and left for a later run
    given_up: int  # failed MAX_ATTEMPTS times
    stopped: str  # why the run stopped early, or ""
    secret_destroyed: bool  # the round's link secret no longer exists

    def summary(self) -> str:
        """Return the report as one sentence."""
        what = "Invitations" if self.kind is MailKind.INVITATION else "Reminders"
        return (
            f"{what}: {self.sent_now} sent now, {self.sent_before} sent before, "
            f"{self.failed} to retry, {self.given_up} given up, of {self.invited} invited."
        )


def ledger_counts(session: Session, round_id: int, kind: MailKind) -> tuple[dict[str, int], int]:
    """Return a job's ledger rows per status, and how many of the failed ones were given up."""
    by_status: dict[str, int] = dict(
        session.execute(
            select(Delivery.status, func.count())
            .where(rows_of(round_id, kind))
            .group_by(Delivery.status)
        ).all()
    )
    given_up = count_rows(
        session,
        rows_of(round_id, kind),
        Delivery.status == DeliveryStatus.FAILED,
        Delivery.attempts >= MAX_ATTEMPTS,
    )
    return by_status, given_up


def send_round_mail(
    session_factory: SessionFactory,
    round_id: int,
    kind: MailKind | str,
    *,
    kek: bytes,
    public_url: str,
    mailer: Mailer,
    salt: bytes,
    sender: str = "",
) -> SendReport:
    """Send a round's invitations or reminders to everyone invited who has not had them yet.

    Safe to run again at any time: it resumes where an earlier run stopped or crashed.
    Raises :class:`rounds.RoundError` if the round is not open (or its link secret is gone);
    a server failure does not raise but stops the run, and the report says why. The caller
    holds this job's lock (:func:`.mailjobs.send_configured` does).

    :param session_factory: makes the sessions this function opens and commits itself.
    :param salt: the instance's Message-ID key (:func:`survey.domain.mail.message_id_salt`).
    :param sender: the ``From`` address (``MAIL_FROM``); empty means ``candor@localhost``.
    """
    kind = MailKind(kind)
    domain = sender_domain(sender)
    with session_factory() as session, session.begin():
        rnd = rounds.get_round(session, round_id)
        if rnd.status is not RoundStatus.OPEN or rnd.snapshot is None:
            raise rounds.RoundError(
                f"round {round_id} is {rnd.status.value}; invitations and reminders are sent "
                "only while a round is open."
            )
        strict = rnd.program.strict_links
        base = _context(rnd, public_url)
        _record_recipients(session, round_id, kind, rnd.snapshot["people"])
        session.execute(
            update(Delivery)
            .where(rows_of(round_id, kind), Delivery.status == DeliveryStatus.SENDING)
            .values(status=DeliveryStatus.FAILED, error=INTERRUPTED)
        )
        links: dict[int, rounds.Link] = {}
        if (kind is MailKind.INVITATION or not strict) and count_rows(
            session, rows_of(round_id, kind), claimable()
        ):
            links = {
                link.person_id: link
                for link in rounds.invitation_links(session, rnd, kek, public_url)
            }
        sent_before = count_rows(
            session, rows_of(round_id, kind), Delivery.status == DeliveryStatus.SENT
        )

    sent_now = 0
    stopped = ""
    cursor = 0
    while not stopped:
        with session_factory() as session, session.begin():
            batch = session.execute(
                select(
                    Delivery.id,
                    Delivery.person_id,
                    Delivery.status,
                    Delivery.attempts,
                    Person.email,
                    Person.name,
                )
                .join(Person, Person.id == Delivery.person_id)
                .where(rows_of(round_id, kind), Delivery.id > cursor, claimable())
                .order_by(Delivery.id)
                .limit(BATCH_SIZE)
            ).all()
        if not batch:
            break
        for row in batch:
            cursor = row.id
            if not _claim(session_factory, row.id, row.status, row.attempts):
                continue  # another run took it
            link = links.get(row.person_id)
            ctx = replace(
                base,
                name=row.name,
                link=link.url if link else None,
                entry_url=link.entry_url if link else None,
                code=link.code if link else None,
            )
            try:
                message = build_message(
                    kind,
                    ctx,
                    sender=sender,
                    recipient=row.email,
                    msg_id=message_id(salt, round_id, row.person_id, kind, domain),
                )
                mailer.send(message)
            except MailError as exc:
                if not exc.per_message:
                    _set(session_factory, row.id, status=row.status, attempts=row.attempts)
                    stopped = str(exc)
                    break
                _set(
                    session_factory,
                    row.id,
                    status=DeliveryStatus.FAILED,
                    error=str(exc)[:ERROR_MAX_CHARS],
                )
                continue
            _set(session_factory, row.id, status=DeliveryStatus.SENT, error="")
            sent_now += 1

    with session_factory() as session, session.begin():
        by_status, given_up = ledger_counts(session, round_id, kind)
        rnd = rounds.get_round(session, round_id)
        unfinished = sum(by_status.values()) - by_status.get(DeliveryStatus.SENT, 0) - given_up
        if strict and kind is MailKind.INVITATION and not unfinished:
            rounds.forget_secret(session, rnd)  # strict: no link can be derived again
        secret_destroyed = rnd.wrapped_token_secret is None
    return SendReport(
        kind=kind,
        invited=sum(by_status.values()),
        sent_now=sent_now,
        sent_before=sent_before,
        failed=by_status.get(DeliveryStatus.FAILED, 0) - given_up,
        given_up=given_up,
        stopped=stopped,
        secret_destroyed=secret_destroyed,
    )


def _planned_close(rnd: Round) -> dt.date | None:
    """Return when a scheduled round will close (None for rounds an admin closes by hand)."""
    if rnd.opens_on is None or rnd.program.cadence is Cadence.MANUAL:
        return None
    return cadence.closes_on(rnd.opens_on, rnd.program.window_days)


def _context(rnd: Round, public_url: str) -> MailContext:
    """Return what every message of the round says, before the person's link is added."""
    return MailContext(
        program_name=rnd.program.name,
        round_label=rnd.label,
        closes_on=rnd.closes_on or _planned_close(rnd),
        k=rnd.k or rnd.program.k,
        comment_k=rnd.comment_k or rnd.program.comment_k,
        link=None,
        entry_url=None,
        code=None,
        privacy_url=public_url.rstrip("/") + "/privacy",
        strict=rnd.program.strict_links,
    )


def rows_of(round_id: int, kind: MailKind) -> Any:
    """Return the condition for one job's ledger rows: a round's emails of one kind."""
    return and_(Delivery.round_id == round_id, Delivery.kind == kind.value)


def claimable() -> Any:
    """Rows a run may send: never tried, or failed fewer than MAX_ATTEMPTS times."""
    return or_(
        Delivery.status == DeliveryStatus.PENDING,
        and_(Delivery.status == DeliveryStatus.FAILED, Delivery.attempts < MAX_ATTEMPTS),
    )


def count_rows(session: Session, *where: Any) -> int:
    """Return how many ledger rows meet every condition in ``where``."""
    return session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0


def _record_recipients(session: Session, round_id: int, kind: MailKind, people: list[int]) -> None:
    """Add a pending row for every invited person who has none for this kind (idempotent)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        insert: Any = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - Candor runs on SQLite and PostgreSQL only
        raise MailError(f"sending mail is not supported on {dialect}")
    rows = [
        {
            "round_id": round_id,
            "person_id": person_id,
            "kind": kind.value,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "error": "",
        }
        for person_id in people
    ]
    for start in range(0, len(rows), BATCH_SIZE):
        session.execute(
            insert(Delivery)
            .values(rows[start : start + BATCH_SIZE])
            .on_conflict_do_nothing(index_elements=["round_id", "person_id", "kind"])
        )


def _claim(session_factory: SessionFactory, delivery_id: int, status: str, attempts: int) -> bool:
    """Mark a row ``sending`` and count the attempt, unless someone changed it meanwhile."""
    with session_factory() as session, session.begin():
        claimed = session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.status == status,
                Delivery.attempts == attempts,
            )
            .values(status=DeliveryStatus.SENDING, attempts=Delivery.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(claimed, "rowcount", 0) == 1)


def _set(session_factory: SessionFactory, delivery_id: int, **values: Any) -> None:
    """Record a row's outcome in its own commit."""
    with session_factory() as session, session.begin():
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
