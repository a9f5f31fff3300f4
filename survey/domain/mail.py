"""Invitation and reminder emails, built as plain text with an HTML alternative.

Invariants:
- One message per (round, person, kind) has one ``Message-ID``, derived from those three ids
  with a keyed hash (:func:`message_id`). A message sent again after a crash therefore carries
  the same id, so receivers can drop the duplicate and a file outbox overwrites its own file;
  the key keeps roster ids out of headers that other mail servers see.
- A strict round's reminder carries no survey link (its link secret is gone); every other
  invitation or reminder carries the person's link, with the code in the fragment, and the
  fallback for mail clients that drop fragments: the survey page's address and the code to
  type into it. No message puts a code in a URL path (proxies and servers log paths).
- The HTML part escapes everything it is given; the text part is never parsed as markup.
  Neither part loads anything remote (no images, no tracking, no rewritten links).
- Every failure to build or send a message is a :class:`MailError`.
"""

from __future__ import annotations

import datetime as dt
import email.errors
import email.policy
import enum
import hashlib
import hmac
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import jinja2

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "mail"
MESSAGE_ID_HEX = 32  # 128 bits of the keyed hash
SALT_LABEL = b"candor/mail/message-id/v1"
DEFAULT_SENDER = "Candor <candor@localhost>"


class MailError(Exception):
    """Raised for every failure to build or send an email; the message says what to fix.

    :param per_message: true when only this message failed (say, a refused or malformed
        address) and others may still go through; false when the server or the connection
        failed, so that nothing else can be sent until it is fixed.
    """

    def __init__(self, message: str, *, per_message: bool = False) -> None:
        super().__init__(message)
        self.per_message = per_message


class MailKind(enum.StrEnum):
    """Which email of a round; stored as ``Delivery.kind``."""

    INVITATION = "invitation"
    REMINDER = "reminder"


class DeliveryStatus(enum.StrEnum):
    """Where one person's email stands in the delivery ledger; stored as ``Delivery.status``.

    ``PENDING``: never tried. ``SENDING``: claimed by a run and maybe on the wire (a row left
    here by a crash is sent again, with the same Message-ID). ``SENT``: handed to the server or
    written to the outbox. ``FAILED``: refused on its own, retried by later runs.
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class MailContext:
    """Everything an invitation or reminder says, for one person.

    ``link`` is ``<base>/s/<round>#<code>``; ``entry_url`` is ``<base>/s/<round>``, where the
    person can type ``code`` instead. All three are ``None`` only in a strict round's reminder.
    """

    program_name: str
    round_label: str
    closes_on: dt.date | None
    k: int
    comment_k: int
    link: str | None
    entry_url: str | None
    code: str | None
    privacy_url: str
    strict: bool
    name: str = ""


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def message_id_salt(kek: bytes) -> bytes:
    """Return this instance's key for :func:`message_id`, derived from the instance key."""
    return hmac.new(kek, SALT_LABEL, hashlib.sha256).digest()


def message_id(salt: bytes, round_id: int, person_id: int, kind: MailKind, domain: str) -> str:
    """Return the ``Message-ID`` of one person's email of a round: the same on every send."""
    mac = hmac.new(salt, f"{round_id}/{person_id}/{kind.value}".encode(), hashlib.sha256)
    return f"<{mac.hexdigest()[:MESSAGE_ID_HEX]}@{domain}>"


def parse_address(addr_spec: str, name: str = "") -> Address:
    """Return a header address, or raise a per-message :class:`MailError` if it is malformed."""
    try:
        return Address(display_name=_one_line(name), addr_spec=addr_spec.strip())
    except (ValueError, email.errors.HeaderParseError) as exc:
        raise MailError(f"{addr_spec!r} is not a valid email address", per_message=True) from exc


def sender_domain(sender: str) -> str:
    """Return the domain of the ``From`` address, used to qualify Message-IDs."""
    return parse_sender(sender).domain or "localhost"


def parse_sender(sender: str) -> Address:
    """Return the ``From`` address given as ``"Name <addr>"`` or a bare address."""
    header = email.policy.default.header_factory("From", sender.strip() or DEFAULT_SENDER)
    found: tuple[Address, ...] = header.addresses
    if len(found) != 1 or header.defects or not found[0].domain:
        raise MailError(f"MAIL_FROM {sender!r} is not one valid email address")
    return found[0]


def subject(kind: MailKind, ctx: MailContext) -> str:
    """Return the subject line of an invitation or reminder."""
    survey = _one_line(f"{ctx.program_name} {ctx.round_label}")
    if kind is MailKind.INVITATION:
        return f"{survey}: your survey link"
    until = f" (open until {ctx.closes_on.isoformat()})" if ctx.closes_on else ""
    return f"Reminder: {survey}{until}"


def build_message(
    kind: MailKind,
    ctx: MailContext,
    *,
    sender: str,
    recipient: str,
    msg_id: str,
) -> EmailMessage:
    """Return the invitation or reminder for one person, as text with an HTML alternative."""
    given = {value is not None for value in (ctx.link, ctx.entry_url, ctx.code)}
    if len(given) > 1:
        raise ValueError("a message carries its link, entry page and code together, or none")
    has_link = given == {True}
    if has_link == (kind is MailKind.REMINDER and ctx.strict):
        raise ValueError(
            "a strict round's reminder must carry no link, and every other message one link"
        )
    values: dict[str, Any] = {
        "program_name": ctx.program_name,
        "round_label": ctx.round_label,
        "closes_on": ctx.closes_on.isoformat() if ctx.closes_on else "",
        "k": ctx.k,
        "comment_k": ctx.comment_k,
        "link": ctx.link,
        "entry_url": ctx.entry_url,
        "code": ctx.code,
        "privacy_url": ctx.privacy_url,
        "strict": ctx.strict,
        "name": _one_line(ctx.name),
        "subject": subject(kind, ctx),
    }
    message = _envelope(values["subject"], sender, parse_address(recipient, ctx.name), msg_id)
    message.set_content(_ENV.get_template(f"{kind.value}.txt").render(values))
    message.add_alternative(_ENV.get_template(f"{kind.value}.html").render(values), subtype="html")
    return message


def build_test_message(*, sender: str, recipient: str) -> EmailMessage:
    """Return a short plain-text message that checks the mail settings (no survey link)."""
    message = _envelope(
        "Candor: test message",
        sender,
        parse_address(recipient),
        make_msgid(domain=sender_domain(sender)),
    )
    message.set_content(_ENV.get_template("test.txt").render())
    return message


def _envelope(title: str, sender: str, to: Address, msg_id: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = title
    message["From"] = parse_sender(sender)
    message["To"] = to
    message["Message-ID"] = msg_id
    message["Date"] = formatdate(usegmt=True)
    # RFC 3834: tells autoresponders (out-of-office replies) not to answer.
    message["Auto-Submitted"] = "auto-generated"
    return message


def _one_line(text: str) -> str:
    """Collapse whitespace so user text cannot break a header onto a new line."""
    return " ".join(text.split())
