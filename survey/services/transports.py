"""Where messages go: an SMTP server, or a folder of ``.eml`` files.

Invariants:
- Every failure is a :class:`~survey.domain.mail.MailError` whose message says what to fix;
  ``per_message`` tells a refused message (others may still go) from a failed server or
  connection (nothing else can go until it is fixed).
- The SMTP password is never sent in clear to a server that is not on this machine, and a
  server that does not offer the STARTTLS it is asked for is refused.
- The file outbox writes each message atomically to a file named after its Message-ID, so
  writing one message twice leaves one complete file.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import smtplib
import ssl
import tempfile
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any, Protocol

from ..domain.mail import MailError

__all__ = ["FileOutbox", "MailError", "Mailer", "SmtpMailer", "mailer_from_config"]

SMTP_REPLY_MAX_CHARS = 200
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
