"""Invitation and reminder messages, built without an app."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from email.message import EmailMessage

import pytest

from survey.domain.mail import (
    MailContext,
    MailError,
    MailKind,
    build_message,
    build_test_message,
    message_id,
    message_id_salt,
    parse_address,
    parse_sender,
    subject,
)

CODE = "3.AbCdEfGhIjKlMnOpQrStUvWxYz012345"
ENTRY = "https://pulse.example.org/s/7"
LINK = f"{ENTRY}#{CODE}"
FALLBACK = f"If the link does not open the survey, go to {ENTRY} and enter your code: {CODE}"
SALT = message_id_salt(bytes(32))
CTX = MailContext(
    program_name="Pulse",
    round_label="R3",
    closes_on=dt.date(2026, 11, 13),
    k=5,
    comment_k=10,
    link=LINK,
    entry_url=ENTRY,
    code=CODE,
    privacy_url="https://pulse.example.org/privacy",
    strict=False,
    name="Ada Lovelace",
)
NO_LINK = replace(CTX, link=None, entry_url=None, code=None, strict=True)


def build(
    kind: MailKind, ctx: MailContext = CTX, recipient: str = "ada@example.org"
) -> EmailMessage:
    return build_message(
        kind,
        ctx,
        sender="Candor <pulse@example.org>",
        recipient=recipient,
        msg_id=message_id(SALT, 7, 42, kind, "example.org"),
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


@pytest.mark.parametrize(
    ("kind", "ctx", "has_link", "says"),
    [
        (MailKind.INVITATION, CTX, True, "a few short questions about how work feels"),
        (MailKind.INVITATION, replace(CTX, strict=True), True, "cannot be sent to you again"),
        (MailKind.REMINDER, CTX, True, "goes to everyone who was invited"),
        (MailKind.REMINDER, NO_LINK, False, "use the link in your invitation email"),
    ],
)
def test_what_each_message_says(
    kind: MailKind, ctx: MailContext, has_link: bool, says: str
) -> None:
    message = build(kind, ctx)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    text, html = parts(message)
    for body in (text, html):
        assert says in body
        assert ("/s/7" in body) is has_link
        assert "https://pulse.example.org/privacy" in body
        assert "at least 5 people" in body and "at least 10" in body
        assert "2026-11-13" in body
    if has_link:
        assert LINK in text and FALLBACK in text
        assert f'href="{LINK}"' in html and f'href="{ENTRY}"' in html
        assert re.sub(r"<[^>]+>", "", " ".join(html.split())).count(FALLBACK) == 1
    assert f"/s/7/{CODE}" not in text + html  # never a code in a path
    assert message["To"] == "Ada Lovelace <ada@example.org>"
    assert message["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize(
    ("kind", "ctx"),
    [
        (MailKind.INVITATION, replace(CTX, link=None, entry_url=None, code=None)),
        (MailKind.REMINDER, replace(CTX, link=None, entry_url=None, code=None)),
        (MailKind.REMINDER, replace(NO_LINK, link=LINK, entry_url=ENTRY, code=CODE)),
    ],
)
def test_links_are_where_they_belong_and_nowhere_else(kind: MailKind, ctx: MailContext) -> None:
    with pytest.raises(ValueError, match="strict round's reminder must carry no link"):
        build(kind, ctx)


@pytest.mark.parametrize(
    "ctx",
    [replace(CTX, code=None), replace(CTX, entry_url=None), replace(NO_LINK, code=CODE)],
)
def test_link_entry_page_and_code_come_together(ctx: MailContext) -> None:
    with pytest.raises(ValueError, match="link, entry page and code together"):
        build(MailKind.INVITATION, ctx)


def test_html_escapes_everything_and_loads_nothing_remote() -> None:
    hostile = replace(CTX, program_name="<script>alert(1)</script> & co", name='Eve "<img src=x>"')
    for kind in MailKind:
        text, html = parts(build(kind, hostile))
        assert "<script>" not in html and "<img" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
        assert "<script>alert(1)</script> & co" in text  # plain text is never parsed
        assert not re.search(r"<[^>]*\bsrc=", html)  # no images, no tracking pixels


def test_message_id_is_stable_and_opaque() -> None:
    first = message_id(SALT, 7, 42, MailKind.INVITATION, "example.org")
    assert first == message_id(SALT, 7, 42, MailKind.INVITATION, "example.org")
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.org>", first)
    others = {
        message_id(SALT, 8, 42, MailKind.INVITATION, "example.org"),
        message_id(SALT, 7, 43, MailKind.INVITATION, "example.org"),
        message_id(SALT, 7, 42, MailKind.REMINDER, "example.org"),
        message_id(message_id_salt(bytes([1]) * 32), 7, 42, MailKind.INVITATION, "example.org"),
    }
    assert first not in others and len(others) == 4
    assert build(MailKind.INVITATION)["Message-ID"] == first


@pytest.mark.parametrize(
    "bad", ["no-at-sign", "two words@example.org", "a@b\nBcc: everyone@example.org", "<x@y>"]
)
def test_malformed_recipient_fails_that_message_only(bad: str) -> None:
    with pytest.raises(MailError, match="is not a valid email address") as caught:
        build(MailKind.INVITATION, recipient=bad)
    assert caught.value.per_message


def test_user_text_cannot_add_header_lines() -> None:
    ctx = replace(CTX, program_name="Pulse\r\nBcc: all@example.org", name="Ada\nBcc: x@y")
    message = build(MailKind.REMINDER, ctx)
    assert message["Bcc"] is None
    assert message["Subject"] == "Reminder: Pulse Bcc: all@example.org R3 (open until 2026-11-13)"
    assert subject(MailKind.INVITATION, ctx) == "Pulse Bcc: all@example.org R3: your survey link"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", "Candor <candor@localhost>"),
        ("pulse@example.org", "pulse@example.org"),
        ('"People, Team" <people@example.org>', '"People, Team" <people@example.org>'),
    ],
)
def test_sender(given: str, expected: str) -> None:
    assert str(parse_sender(given)) == expected


@pytest.mark.parametrize("bad", ["nobody", "a@example.org, b@example.org", "Name <nodomain>"])
def test_bad_sender_is_refused(bad: str) -> None:
    with pytest.raises(MailError, match="MAIL_FROM"):
        parse_sender(bad)


def test_test_message_carries_no_link() -> None:
    message = build_test_message(sender="pulse@example.org", recipient="ops@example.org")
    assert message.get_content_type() == "text/plain"
    assert "/s/" not in str(message.get_content())
    assert str(message["Message-ID"]).endswith("@example.org>")


def test_parse_address_keeps_unicode_names() -> None:
    assert str(parse_address("zoe@example.org", "Zoë  Ñ")) == "Zoë Ñ <zoe@example.org>"
