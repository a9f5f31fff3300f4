"""Sending a round's invitations and reminders by email, resumably.

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
import fcntl
import hashlib
import ipaddress
import os
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..domain import cadence
from ..domain.mail import (
    MailContext,
    MailError,
    MailKind,
    build_message,
    message_id,
    message_id_salt,
    sender_domain,
)
from ..models import Cadence, Delivery, Person, Round, RoundStatus
from . import rounds

__all__ = [
    "FileOutbox",
    "MailError",
    "Mailer",
    "SendReport",
    "SmtpMailer",
    "mailer_from_config",
    "send_configured",
    "send_round_mail",
    "sending_lock",
]

MAX_ATTEMPTS = 5
BATCH_SIZE = 100
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
INTERRUPTED = (
    "interrupted while sending (it may have been delivered); "
    "it is sent again with the same Message-ID"
)
ERROR_MAX_CHARS = 500  # the ledger's column size
SMTP_REPLY_MAX_CHARS = 200
LOCK_FILE = "mail.lock"  # in the instance folder
SMTP_AUTH_REQUIRED = 530  # "authentication required" or "must issue STARTTLS first"


class Mailer(Protocol):
    """Where messages go: an SMTP server, or a folder of ``.eml`` files."""

    def send(self, message: EmailMessage) -> None:
        """Deliver one message or raise :class:`MailError`."""

    def close(self) -> None:
        """Release any connection."""


class FileOutbox:
    """Write each message to ``<directory>/<hash of its Message-ID>.eml`` (mode 0600).

    The write is atomic (a temporary file renamed over the target), so writing one message
    twice leaves one complete file. The files hold live survey links: keep the folder private,
    and delete the files once they are handed on.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def path_for(self, message: EmailMessage) -> str:
        """Return the file a message is written to."""
        msg_id = str(message["Message-ID"] or "")
        if not msg_id:
            raise MailError("the message has no Message-ID")
        name = hashlib.sha256(msg_id.encode()).hexdigest()[:32]
        return os.path.join(self.directory, f"{name}.eml")

    def send(self, message: EmailMessage) -> None:
        """Write the message to its file, replacing an earlier copy of the same message."""
        path = self.path_for(message)
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")  # 0600
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(message.as_bytes())
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            raise MailError(
                f"cannot write to the mail outbox {self.directory}: {exc.strerror or exc}"
            ) from exc

    def close(self) -> None:
        """Do nothing: the outbox holds no connection."""

    def __enter__(self) -> FileOutbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __str__(self) -> str:
        return f"the mail outbox {self.directory}"


class SmtpMailer:
    """Send through one SMTP connection, opened on first use and reused.

    With ``starttls`` the connection is upgraded before anything else is said, and a server
    that does not offer STARTTLS is refused. Credentials are never sent in clear to a server
    that is not on this machine.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = True,
        username: str = "",
        password: str = "",
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if not host:
            raise MailError("SMTP_HOST is not set.")
        if username and not starttls and not _is_loopback(host):
            raise MailError(
                f"refusing to send the SMTP password to {host} without encryption: "
                "set SMTP_STARTTLS, or relay through a server on this machine."
            )
        self.host, self.port = host, port
        self.starttls, self.username, self.password = starttls, username, password
        self.timeout = timeout
        self.tls_context = tls_context or ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None

    def __str__(self) -> str:
        return f"the SMTP server at {self.host}:{self.port}"

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def send(self, message: EmailMessage) -> None:
        """Send one message; on a dropped reused connection, reconnect once and resend."""
        reused = self._smtp is not None
        smtp = self._smtp or self._connect()
        self._smtp = smtp
        try:
            smtp.send_message(message)
        except smtplib.SMTPServerDisconnected as exc:
            self._smtp = None
            if not reused:
                raise MailError(f"{self} closed the connection") from exc
            self.send(message)
        except smtplib.SMTPRecipientsRefused as exc:
            replies = "; ".join(_reply(code, text) for code, text in exc.recipients.values())
            raise MailError(f"{self} refused the recipient: {replies}", per_message=True) from exc
        except smtplib.SMTPSenderRefused as exc:
            self.close()
            reply = _reply(exc.smtp_code, exc.smtp_error)
            if exc.smtp_code == SMTP_AUTH_REQUIRED:
                raise MailError(
                    f"{self} wants encryption or a login first (check SMTP_STARTTLS and "
                    f"SMTP_USERNAME): {reply}"
                ) from exc
            raise MailError(
                f"{self} refused the sender {exc.sender} (check MAIL_FROM): {reply}"
            ) from exc
        except smtplib.SMTPDataError as exc:
            raise MailError(
                f"{self} refused the message: {_reply(exc.smtp_code, exc.smtp_error)}",
                per_message=True,
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise MailError(f"sending through {self} failed: {exc}") from exc

    def close(self) -> None:
        """Say QUIT if the connection is still up, and forget it."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def _connect(self) -> smtplib.SMTP:
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise MailError(f"cannot connect to {self}: {reason}") from exc
        try:
            smtp.ehlo()
            if self.starttls:
                if not smtp.has_extn("starttls"):
                    raise MailError(
                        f"{self} does not offer STARTTLS, which SMTP_STARTTLS requires; "
                        "turn SMTP_STARTTLS off only for a relay on this machine."
                    )
                smtp.starttls(context=self.tls_context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password)
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise MailError(self._explain(exc)) from exc
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _explain(self, exc: BaseException) -> str:
        """Return a plain sentence for a failure while greeting, encrypting or logging in."""
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return (
                f"{self} refused the user name or password (SMTP_USERNAME / SMTP_PASSWORD): "
                f"{_reply(exc.smtp_code, exc.smtp_error)}"
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return f"{self} does not offer authentication; leave SMTP_USERNAME empty for it."
        if isinstance(exc, ssl.SSLCertVerificationError):
            return f"{self} presented a TLS certificate that is not trusted: {exc.verify_message}"
        if isinstance(exc, smtplib.SMTPResponseException):
            return f"{self} answered: {_reply(exc.smtp_code, exc.smtp_error)}"
        return f"talking to {self} failed: {exc or type(exc).__name__}"


def _reply(code: int, text: bytes | str) -> str:
    """Return an SMTP reply as one short line."""
    line = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(line.split())}"[:SMTP_REPLY_MAX_CHARS]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mailer_from_config(config: Mapping[str, Any]) -> FileOutbox | SmtpMailer:
    """Return the mailer the configuration asks for (``MAIL_BACKEND``: file or smtp)."""
    backend = config["MAIL_BACKEND"]
    if not backend:
        raise MailError(
            "No mail is set up: set MAIL_BACKEND to 'smtp', with SMTP_HOST and MAIL_FROM "
            "(or, for a trial, CANDOR_ENV=development, which writes messages to a file outbox)."
        )
    if backend == "file":
        return FileOutbox(str(config["MAIL_OUTBOX_DIR"]))
    if backend != "smtp":
        raise MailError(f"MAIL_BACKEND must be 'file' or 'smtp', got {backend!r}.")
    if not config["MAIL_FROM"]:
        raise MailError(
            "MAIL_FROM must be set to send by SMTP (e.g. 'Candor <pulse@example.org>')."
        )
    return SmtpMailer(
        str(config["SMTP_HOST"]),
        int(config["SMTP_PORT"]),
        starttls=bool(config["SMTP_STARTTLS"]),
        username=str(config["SMTP_USERNAME"]),
        password=str(config["SMTP_PASSWORD"]),
        timeout=float(config["SMTP_TIMEOUT"]),
    )


def send_configured(
    config: Mapping[str, Any],
    instance_path: str,
    session_factory: SessionFactory,
    round_id: int,
    kind: MailKind | str,
    kek: bytes,
) -> SendReport:
    """Send with the configured mailer while holding this instance's sending lock.

    This is what commands and scheduled jobs call; see :func:`send_round_mail`.
    """
    with (
        sending_lock(os.path.join(instance_path, LOCK_FILE)),
        mailer_from_config(config) as sink,
    ):
        return send_round_mail(
            session_factory,
            round_id,
            kind,
            kek=kek,
            public_url=str(config["PUBLIC_URL"]),
            mailer=sink,
            salt=message_id_salt(kek),
            sender=str(config["MAIL_FROM"]),
        )


@contextmanager
def sending_lock(path: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` so only one sender runs on this instance at a time.

    A run treats rows it finds in ``sending`` as left by a crash; a second run at the same
    moment would send those again (with the same Message-ID), so commands take this lock.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise MailError(
                "another `candor mail` command is sending for this instance; let it finish."
            ) from exc
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


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


SessionFactory = Callable[[], Session]


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
    a server failure does not raise but stops the run, and the report says why.

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
            .where(_of(round_id, kind), Delivery.status == SENDING)
            .values(status=FAILED, error=INTERRUPTED)
        )
        links: dict[int, rounds.Link] = {}
        if (kind is MailKind.INVITATION or not strict) and _count(
            session, _of(round_id, kind), _claimable()
        ):
            links = {
                link.person_id: link
                for link in rounds.invitation_links(session, rnd, kek, public_url)
            }
        sent_before = _count(session, _of(round_id, kind), Delivery.status == SENT)

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
                .where(_of(round_id, kind), Delivery.id > cursor, _claimable())
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
                _set(session_factory, row.id, status=FAILED, error=str(exc)[:ERROR_MAX_CHARS])
                continue
            _set(session_factory, row.id, status=SENT, error="")
            sent_now += 1

    with session_factory() as session, session.begin():
        by_status: dict[str, int] = dict(
            session.execute(
                select(Delivery.status, func.count())
                .where(_of(round_id, kind))
                .group_by(Delivery.status)
            ).all()
        )
        given_up = _count(
            session,
            _of(round_id, kind),
            Delivery.status == FAILED,
            Delivery.attempts >= MAX_ATTEMPTS,
        )
        rnd = rounds.get_round(session, round_id)
        unfinished = sum(by_status.values()) - by_status.get(SENT, 0) - given_up
        if strict and kind is MailKind.INVITATION and not unfinished:
            rounds.forget_secret(session, rnd)  # strict: no link can be derived again
        secret_destroyed = rnd.wrapped_token_secret is None
    return SendReport(
        kind=kind,
        invited=sum(by_status.values()),
        sent_now=sent_now,
        sent_before=sent_before,
        failed=by_status.get(FAILED, 0) - given_up,
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


def _of(round_id: int, kind: MailKind) -> Any:
    return and_(Delivery.round_id == round_id, Delivery.kind == kind.value)


def _claimable() -> Any:
    """Rows a run may send: never tried, or failed fewer than MAX_ATTEMPTS times."""
    return or_(
        Delivery.status == PENDING,
        and_(Delivery.status == FAILED, Delivery.attempts < MAX_ATTEMPTS),
    )


def _count(session: Session, *where: Any) -> int:
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
            "status": PENDING,
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
            .values(status=SENDING, attempts=Delivery.attempts + 1)
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
