"""Sending invitations and reminders: a real SMTP server on loopback, real databases, crashes."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import os
import re
import socket
import ssl
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from sqlalchemy import select

from survey import config as config_module
from survey import db
from survey.db import READ_ONLY_OPTION
from survey.domain.mail import MailKind, build_test_message, message_id_salt
from survey.models import Delivery, MailRun, Person, Program, Round
from survey.services import locks, mailjobs, rounds, transports
from survey.services import mailer as mail
from tests import smtp as loopback
from tests.conftest import OpenRound
from tests.helpers import invitation_unused
from tests.services.round_steps import answer_all
from tests.smtp import PASSWORD, USER, Server, check_password

smtp, start_server = loopback.smtp, loopback.start_server  # fixtures

SENDER = "Candor <pulse@candor.test>"
CODE = r"\d+\.[A-Za-z0-9_-]+"
LINK = re.compile(rf"http://candor\.test/s/(\d+)#({CODE})")
FALLBACK = re.compile(
    rf"If the link does not open the survey, go to (http://candor\.test/s/(\d+)) "
    rf"and enter your code: ({CODE})"
)
PATH_LINK = re.compile(r"/s/\d+/")


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 and its key, as files."""

    cert: str
    key: str


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(str(folder / "cert.pem"), str(folder / "key.pem"))


# --- helpers ---------------------------------------------------------------------------------


def send(app: Flask, round_id: int, kind: MailKind, mailer: transports.Mailer) -> mail.SendReport:
    kek = app.extensions["candor.kek"]
    return mail.send_round_mail(
        app.extensions["candor.sessionmaker"],
        round_id,
        kind,
        kek=kek,
        public_url=app.config["PUBLIC_URL"],
        mailer=mailer,
        salt=message_id_salt(kek),
        sender=SENDER,
    )


def invited(app: Flask, round_id: int) -> dict[int, str]:
    """Return person id -> email of everyone in the round's snapshot."""
    with db.session_scope(app) as session:
        rnd = session.get(Round, round_id)
        assert rnd is not None and rnd.snapshot is not None
        people = session.scalars(select(Person).where(Person.id.in_(rnd.snapshot["people"])))
        return {p.id: p.email for p in people}


def ledger(app: Flask, round_id: int, kind: MailKind) -> list[Delivery]:
    with db.session_scope(app) as session:
        return list(
            session.scalars(
                select(Delivery).where(Delivery.round_id == round_id, Delivery.kind == kind.value)
            )
        )


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def token_in(message: EmailMessage) -> str:
    """Return the code of a message's link, checking the fallback and that no path holds it."""
    text, html = text_of(message), html_of(message)
    found = LINK.search(text)
    assert found is not None
    fallback = FALLBACK.search(text)
    assert fallback is not None
    assert (fallback.group(2), fallback.group(3)) == (found.group(1), found.group(2))
    assert f'href="{found.group(0)}"' in html and f'href="{fallback.group(1)}"' in html
    assert fallback.group(3) in html
    assert not PATH_LINK.search(text + html)  # no code in a URL path, anywhere
    return found.group(2)


def outbox_messages(folder: Path) -> list[EmailMessage]:
    found = []
    for path in sorted(folder.glob("*.eml")):
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        found.append(parsed)
    return found


def set_strict(app: Flask, program_id: int) -> None:
    with db.session_scope(app) as session:
        program = session.get(Program, program_id)
        assert program is not None
        program.strict_links = True
        session.commit()


def program_of(app: Flask, round_id: int) -> int:
    with db.session_scope(app) as session:
        rnd = session.get(Round, round_id)
        assert rnd is not None
        return rnd.program_id


class CrashAfter:
    """A mailer that delivers, then dies (like a killed process) on its ``n``-th message."""

    def __init__(self, inner: transports.Mailer, n: int) -> None:
        self.inner, self.n, self.count = inner, n, 0

    def send(self, message: EmailMessage) -> None:
        self.inner.send(message)
        self.count += 1
        if self.count == self.n:
            raise KeyboardInterrupt("killed between sending and recording")

    def close(self) -> None:
        self.inner.close()


# --- delivery over SMTP ------------------------------------------------------------------------


def test_invitations_reach_everyone_once_with_working_links(
    app: Flask, open_round: OpenRound, smtp: Server
) -> None:
    people = invited(app, open_round.round_id)
    with smtp.mailer() as mailer:
        report = send(app, open_round.round_id, MailKind.INVITATION, mailer)
    assert (report.invited, report.sent_now, report.sent_before) == (len(people), len(people), 0)
    assert (report.failed, report.given_up, report.stopped) == (0, 0, "")
    assert not report.secret_destroyed  # not a strict round
    assert sorted(r for m in smtp.messages for r in m.rcpt) == sorted(people.values())
    with db.session_scope(app) as session:
        for received in smtp.messages:
            (address,) = received.rcpt
            token = token_in(received.message)
            assert token == open_round.tokens[address]
            assert invitation_unused(session, open_round.round_id, token)
            assert received.message["From"] == SENDER
            assert received.message["Auto-Submitted"] == "auto-generated"
    assert len({m.message["Message-ID"] for m in smtp.messages}) == len(people)
    assert {d.status for d in ledger(app, open_round.round_id, MailKind.INVITATION)} == {"sent"}

    with smtp.mailer() as mailer:
        again = send(app, open_round.round_id, MailKind.INVITATION, mailer)
    assert (again.sent_now, again.sent_before, again.invited) == (0, len(people), len(people))
    assert len(smtp.messages) == len(people)


def test_reminders_go_to_everyone_invited_including_who_answered(
    app: Flask, open_round: OpenRound, smtp: Server
) -> None:
    answered = sorted(open_round.tokens)[:4]
    answer_all(app, open_round.round_id, [open_round.tokens[e] for e in answered])
    with smtp.mailer() as mailer:
        send(app, open_round.round_id, MailKind.INVITATION, mailer)
        report = send(app, open_round.round_id, MailKind.REMINDER, mailer)
    people = invited(app, open_round.round_id)
    reminders = [m for m in smtp.messages if m.message["Subject"].startswith("Reminder:")]
    assert report.sent_now == len(people) == len(reminders)
    assert sorted(r for m in reminders for r in m.rcpt) == sorted(people.values())
    for received in reminders:  # the same link as the invitation, used or not
        assert token_in(received.message) == open_round.tokens[received.rcpt[0]]
        assert "everyone who was invited" in text_of(received.message)
    reminder_ids = {m.message["Message-ID"] for m in reminders}
    invitation_ids = {m.message["Message-ID"] for m in smtp.messages} - reminder_ids
    assert len(reminder_ids) == len(invitation_ids) == len(people)


def test_crash_between_sending_and_recording_resends_the_same_message(
    app: Flask, open_round: OpenRound, smtp: Server
) -> None:
    people = invited(app, open_round.round_id)
    with smtp.mailer() as mailer, pytest.raises(KeyboardInterrupt):
        send(app, open_round.round_id, MailKind.INVITATION, CrashAfter(mailer, 5))
    statuses = Counter(d.status for d in ledger(app, open_round.round_id, MailKind.INVITATION))
    assert statuses == {"sent": 4, "sending": 1, "pending": len(people) - 5}

    with smtp.mailer() as mailer:
        report = send(app, open_round.round_id, MailKind.INVITATION, mailer)
    assert (report.sent_before, report.sent_now) == (4, len(people) - 4)
    per_person: dict[str, set[str]] = {}
    for received in smtp.messages:
        per_person.setdefault(received.rcpt[0], set()).add(received.message["Message-ID"])
    assert sorted(per_person) == sorted(people.values())  # nobody missed
    assert all(len(ids) == 1 for ids in per_person.values())  # nobody got two distinct emails
    assert len(smtp.messages) == len(people) + 1  # the interrupted one went twice, same id
    rows = ledger(app, open_round.round_id, MailKind.INVITATION)
    assert {d.status for d in rows} == {"sent"}
    assert all(d.error == "" for d in rows)


def test_crash_while_recording_the_send(
    app: Flask, open_round: OpenRound, smtp: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database write after a send fails (not the mailer): the run dies, the next resumes."""
    real_set = mail._set
    calls = Counter[str]()

    def failing_set(session_factory: Any, delivery_id: int, **values: Any) -> None:
        calls[values.get("status", "")] += 1
        if values.get("status") == "sent" and calls["sent"] == 3:
            raise ConnectionError("the database went away")
        real_set(session_factory, delivery_id, **values)

    monkeypatch.setattr(mail, "_set", failing_set)
    with smtp.mailer() as mailer, pytest.raises(ConnectionError):
        send(app, open_round.round_id, MailKind.INVITATION, mailer)
    monkeypatch.setattr(mail, "_set", real_set)
    with smtp.mailer() as mailer:
        send(app, open_round.round_id, MailKind.INVITATION, mailer)
    people = invited(app, open_round.round_id)
    ids = Counter(m.message["Message-ID"] for m in smtp.messages)
    assert len(ids) == len(people) and sorted(ids.values())[-2:] == [1, 2]
    assert sorted({r for m in smtp.messages for r in m.rcpt}) == sorted(people.values())


def test_a_refused_address_fails_alone_and_is_retried_up_to_the_limit(
    app: Flask, open_round: OpenRound, smtp: Server
) -> None:
    people = invited(app, open_round.round_id)
    refused = people[min(people)]
    smtp.recorder.refuse.add(refused)
    with smtp.mailer() as mailer:
        first = send(app, open_round.round_id, MailKind.INVITATION, mailer)
    assert (first.sent_now, first.failed, first.given_up) == (len(people) - 1, 1, 0)
    (row,) = [d for d in ledger(app, open_round.round_id, MailKind.INVITATION) if d.error]
    assert (row.status, row.attempts) == ("failed", 1)
    assert "refused the recipient: 550 5.1.1 no such mailbox here" in row.error

    for _ in range(mail.MAX_ATTEMPTS):
        with smtp.mailer() as mailer:
            last = send(app, open_round.round_id, MailKind.INVITATION, mailer)
    assert smtp.recorder.rcpt_attempts[refused] == mail.MAX_ATTEMPTS  # no sixth try
    assert (last.sent_now, last.failed, last.given_up) == (0, 0, 1)
    assert last.sent_before == len(people) - 1


# --- the SMTP connection: STARTTLS, authentication, plain errors --------------------------------


def test_starttls_required_but_not_offered(smtp: Server) -> None:
    message = build_test_message(sender=SENDER, recipient="someone@example.org")
    with (
        smtp.mailer(starttls=True) as mailer,
        pytest.raises(
            transports.MailError, match=r"does not offer STARTTLS, which SMTP_STARTTLS requires"
        ),
    ):
        mailer.send(message)
    with smtp.mailer(starttls=False) as mailer:
        mailer.send(message)
    assert [m.rcpt for m in smtp.messages] == [["someone@example.org"]]
    assert "test message" in text_of(smtp.messages[0].message)
    assert not LINK.search(text_of(smtp.messages[0].message))


def test_wrong_password_is_a_plain_error(start_server: Callable[..., Server]) -> None:
    server = start_server(authenticator=check_password, auth_require_tls=False)
    message = build_test_message(sender=SENDER, recipient="someone@example.org")
    wrong = server.mailer(username=USER, password="wrong password")  # noqa: S106
    with (
        wrong,
        pytest.raises(transports.MailError, match=r"refused the user name or password.*535"),
    ):
        wrong.send(message)
    with server.mailer(username=USER, password=PASSWORD) as right:
        right.send(message)
    assert len(server.messages) == 1


def test_wrong_password_stops_the_run_without_spending_attempts(
    app: Flask, open_round: OpenRound, start_server: Callable[..., Server]
) -> None:
    server = start_server(authenticator=check_password, auth_require_tls=False)
    with server.mailer(username=USER, password="wrong") as mailer:  # noqa: S106
        report = send(app, open_round.round_id, MailKind.INVITATION, mailer)
    assert "refused the user name or password" in report.stopped
    assert report.sent_now == 0 and report.failed == 0
    rows = ledger(app, open_round.round_id, MailKind.INVITATION)
    assert {(d.status, d.attempts) for d in rows} == {("pending", 0)}
    with server.mailer(username=USER, password=PASSWORD) as mailer:
        report = send(app, open_round.round_id, MailKind.INVITATION, mailer)
    assert report.sent_now == len(rows) == len(server.messages)


def test_starttls_with_a_trusted_certificate_then_login(
    start_server: Callable[..., Server], certificate: Certificate
) -> None:
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(certificate.cert, certificate.key)
    server = start_server(
        tls_context=server_tls, require_starttls=True, authenticator=check_password
    )
    message = build_test_message(sender=SENDER, recipient="someone@example.org")
    trusting = ssl.create_default_context(cafile=certificate.cert)
    with server.mailer(
        starttls=True, username=USER, password=PASSWORD, tls_context=trusting
    ) as mailer:
        mailer.send(message)
    assert len(server.messages) == 1
    with (
        server.mailer(starttls=True) as untrusting,
        pytest.raises(transports.MailError, match="TLS certificate that is not trusted"),
    ):
        untrusting.send(message)  # the system store does not know our self-signed cert
    with server.mailer(starttls=False) as plain, pytest.raises(transports.MailError, match="530"):
        plain.send(message)  # this server insists on STARTTLS


def test_connection_refused_is_a_plain_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening: connections are refused
        mailer = transports.SmtpMailer("127.0.0.1", port, starttls=False, timeout=2)
        with pytest.raises(transports.MailError, match=r"cannot connect to the SMTP server at 127"):
            mailer.send(build_test_message(sender=SENDER, recipient="a@example.org"))


def test_no_password_in_clear_to_a_remote_server() -> None:
    with pytest.raises(transports.MailError, match="without encryption"):
        transports.SmtpMailer("mail.example.org", 25, starttls=False, username="u", password="p")  # noqa: S106
    transports.SmtpMailer("localhost", 25, starttls=False, username="u", password="p")  # noqa: S106


# --- the file outbox ---------------------------------------------------------------------------


def test_file_outbox_is_exactly_once_across_a_crash(
    app: Flask, open_round: OpenRound, tmp_path: Path
) -> None:
    folder = tmp_path / "outbox"
    outbox = transports.FileOutbox(str(folder))
    with pytest.raises(KeyboardInterrupt):
        send(app, open_round.round_id, MailKind.INVITATION, CrashAfter(outbox, 7))
    assert len(outbox_messages(folder)) == 7
    report = send(app, open_round.round_id, MailKind.INVITATION, outbox)
    people = invited(app, open_round.round_id)
    messages = outbox_messages(folder)
    assert report.sent_now == len(people) - 6
    assert sorted(str(m["To"]).rsplit("<")[-1].rstrip(">") for m in messages) == sorted(
        people.values()
    )
    assert len({m["Message-ID"] for m in messages}) == len(people)
    assert not list(folder.glob(".*"))  # no temporary files left
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.glob("*.eml"))
    with db.session_scope(app) as session:
        for message in messages:
            assert invitation_unused(session, open_round.round_id, token_in(message))


def test_file_outbox_rewrites_one_message_in_place(tmp_path: Path) -> None:
    outbox = transports.FileOutbox(str(tmp_path / "outbox"))
    message = build_test_message(sender=SENDER, recipient="a@example.org")
    outbox.send(message)
    outbox.send(message)
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [
        os.path.basename(outbox.path_for(message))
    ]


def test_file_outbox_failure_stops_the_run(
    app: Flask, open_round: OpenRound, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    report = send(
        app, open_round.round_id, MailKind.INVITATION, transports.FileOutbox(str(blocker))
    )
    assert report.stopped.startswith(f"cannot write to the mail outbox {blocker}")
    rows = ledger(app, open_round.round_id, MailKind.INVITATION)
    assert {(d.status, d.attempts) for d in rows} == {("pending", 0)}


# --- strict mode and closed rounds ---------------------------------------------------------------


def test_strict_mode_destroys_the_secret_and_reminds_without_links(
    app: Flask, open_round: OpenRound, tmp_path: Path
) -> None:
    set_strict(app, program_of(app, open_round.round_id))
    outbox = transports.FileOutbox(str(tmp_path / "invitations"))
    report = send(app, open_round.round_id, MailKind.INVITATION, outbox)
    assert report.secret_destroyed
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, open_round.round_id)
        assert rnd.wrapped_token_secret is None
        with pytest.raises(rounds.RoundError, match="no link secret"):
            rounds.invitation_links(session, rnd, app.extensions["candor.kek"], "http://x")
        for message in outbox_messages(tmp_path / "invitations"):  # the links still work
            assert invitation_unused(session, open_round.round_id, token_in(message))
            assert "cannot be sent to you again" in text_of(message)

    again = send(app, open_round.round_id, MailKind.INVITATION, outbox)  # nothing left to do
    assert (again.sent_now, again.stopped) == (0, "")

    reminders = transports.FileOutbox(str(tmp_path / "reminders"))
    report = send(app, open_round.round_id, MailKind.REMINDER, reminders)
    messages = outbox_messages(tmp_path / "reminders")
    assert report.sent_now == len(messages) == len(invited(app, open_round.round_id))
    for message in messages:
        for body in (text_of(message), html_of(message)):
            assert "/s/" not in body
            assert "use the link in your invitation" in body
            assert "http://candor.test/privacy" in body


def test_strict_mode_keeps_the_secret_until_every_invitation_is_out(
    app: Flask, open_round: OpenRound, smtp: Server
) -> None:
    set_strict(app, program_of(app, open_round.round_id))
    people = invited(app, open_round.round_id)
    smtp.recorder.refuse.add(people[max(people)])
    with smtp.mailer() as mailer:
        first = send(app, open_round.round_id, MailKind.INVITATION, mailer)
    assert first.failed == 1 and not first.secret_destroyed
    smtp.recorder.refuse.clear()
    with smtp.mailer() as mailer:
        second = send(app, open_round.round_id, MailKind.INVITATION, mailer)
    assert second.sent_now == 1 and second.secret_destroyed
    last = smtp.messages[-1]
    with db.session_scope(app) as session:
        assert invitation_unused(session, open_round.round_id, token_in(last.message))


def test_closed_round_refuses_to_send(app: Flask, open_round: OpenRound, tmp_path: Path) -> None:
    with db.session_scope(app) as session:
        rounds.close_round(session, rounds.get_round(session, open_round.round_id), dt.date.today())
        session.commit()
    outbox = transports.FileOutbox(str(tmp_path / "outbox"))
    for kind in MailKind:
        with pytest.raises(
            rounds.RoundError, match="is closed; invitations and reminders are sent only while"
        ):
            send(app, open_round.round_id, kind, outbox)
    assert ledger(app, open_round.round_id, MailKind.INVITATION) == []
    assert not (tmp_path / "outbox").exists()


# --- configuration and the command line -----------------------------------------------------------


def test_mail_settings(app: Flask, tmp_path: Path) -> None:
    outbox = transports.mailer_from_config(app.config)
    assert isinstance(outbox, transports.FileOutbox)
    assert outbox.directory == os.path.join(app.instance_path, "outbox")
    smtp_config = {**app.config, "MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1"}
    with pytest.raises(transports.MailError, match="MAIL_FROM must be set"):
        transports.mailer_from_config(smtp_config)
    smtp_mailer = transports.mailer_from_config({**smtp_config, "MAIL_FROM": SENDER})
    assert isinstance(smtp_mailer, transports.SmtpMailer)
    assert (smtp_mailer.port, smtp_mailer.starttls, smtp_mailer.timeout) == (587, True, 30.0)
    with pytest.raises(transports.MailError, match="SMTP_HOST is not set"):
        transports.mailer_from_config({**smtp_config, "MAIL_FROM": SENDER, "SMTP_HOST": ""})
    with pytest.raises(transports.MailError, match="MAIL_BACKEND must be 'file' or 'smtp'"):
        transports.mailer_from_config({**app.config, "MAIL_BACKEND": "carrier-pigeon"})


def settings(tmp_path: Path, **given: Any) -> dict[str, Any]:
    """Return checked settings as a fresh install would have them, with ``given`` on top."""
    found = {
        **config_module.DEFAULTS,
        "SECRET_KEY": "x" * config_module.MIN_SECRET_KEY_LENGTH,
        "PUBLIC_URL": "https://pulse.example.org",
        **given,
    }
    config_module.finish(found, str(tmp_path))
    config_module.validate(found)
    return found


def test_production_starts_without_mail_and_says_what_to_set_when_sending(
    tmp_path: Path,
) -> None:
    production = settings(tmp_path)
    assert production["MAIL_BACKEND"] == ""
    with pytest.raises(transports.MailError, match="No mail is set up: set MAIL_BACKEND to 'smtp'"):
        transports.mailer_from_config(production)
    development = settings(tmp_path, CANDOR_ENV="development")
    assert isinstance(transports.mailer_from_config(development), transports.FileOutbox)


def test_production_refuses_the_file_outbox(tmp_path: Path) -> None:
    with pytest.raises(
        config_module.ConfigError,
        match="the file outbox keeps live survey links on disk; use SMTP in production",
    ):
        settings(tmp_path, MAIL_BACKEND="file")
    assert settings(tmp_path, MAIL_BACKEND="file", CANDOR_ENV="development")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("false", False), ("0", False), ("Off", False), ("true", True), ("1", True), (" yes ", True)],
)
def test_starttls_setting_from_the_environment(value: str, expected: bool) -> None:
    found = config_module.from_environment({"CANDOR_SMTP_STARTTLS": value})
    assert found == {"SMTP_STARTTLS": expected}


def test_starttls_setting_refuses_other_words() -> None:
    with pytest.raises(config_module.ConfigError, match="CANDOR_SMTP_STARTTLS must be a bool"):
        config_module.from_environment({"CANDOR_SMTP_STARTTLS": "maybe"})


def test_mail_commands(app: Flask, open_round: OpenRound) -> None:
    runner = app.test_cli_runner()
    people = invited(app, open_round.round_id)
    result = runner.invoke(args=["candor", "mail", "invite", str(open_round.round_id)])
    assert result.exit_code == 0, result.output
    assert f"Invitations: {len(people)} sent now, 0 sent before" in result.output
    assert "#" not in result.output and "/s/" not in result.output  # no link is ever printed
    outbox = Path(app.config["MAIL_OUTBOX_DIR"])
    assert len(outbox_messages(outbox)) == len(people)

    result = runner.invoke(args=["candor", "mail", "remind", str(open_round.round_id)])
    assert result.exit_code == 0, result.output
    assert f"Reminders: {len(people)} sent now" in result.output
    assert len(outbox_messages(outbox)) == 2 * len(people)

    result = runner.invoke(args=["candor", "mail", "test", "someone@example.org"])
    assert result.exit_code == 0, result.output
    assert "someone@example.org" in result.output

    result = runner.invoke(args=["candor", "mail", "invite", "999"])
    assert result.exit_code == 1
    assert "there is no round 999" in result.output


def test_mail_command_reports_a_stopped_run(
    app: Flask, open_round: OpenRound, smtp: Server
) -> None:
    app.config.update(
        MAIL_BACKEND="smtp",
        MAIL_FROM=SENDER,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        SMTP_STARTTLS=True,
    )
    result = app.test_cli_runner().invoke(
        args=["candor", "mail", "invite", str(open_round.round_id)]
    )
    assert result.exit_code == 1
    assert "does not offer STARTTLS" in result.output
    assert "Run the same command again" in result.output
    assert smtp.messages == []


def use_smtp(app: Flask, server: Server) -> None:
    app.config.update(
        MAIL_BACKEND="smtp",
        MAIL_FROM=SENDER,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=server.port,
        SMTP_STARTTLS=False,
    )


def send_configured(app: Flask, round_id: int, kind: MailKind) -> mail.SendReport:
    return mailjobs.send_configured(
        app.config,
        app.instance_path,
        app.extensions["candor.sessionmaker"],
        round_id,
        kind,
        app.extensions["candor.kek"],
    )


def test_one_sender_per_job_across_app_servers(
    app: Flask, open_round: OpenRound, smtp: Server
) -> None:
    """While another connection (another server) holds a job's lock, a run sends nothing."""
    use_smtp(app, smtp)
    rid, engine = open_round.round_id, app.extensions["candor.engine"]
    name = mailjobs.sending_lock_name(rid, MailKind.INVITATION)
    assert not locks.is_held(engine, name, fallback_dir=app.instance_path)
    with locks.exclusive(engine, name, fallback_dir=app.instance_path) as held:
        assert held and locks.is_held(engine, name, fallback_dir=app.instance_path)
        with pytest.raises(mailjobs.SenderBusy, match="another run is sending round"):
            send_configured(app, rid, MailKind.INVITATION)
        result = app.test_cli_runner().invoke(args=["candor", "mail", "invite", str(rid)])
        assert result.exit_code == 0, result.output
        assert "another run is sending" in result.output
        assert smtp.messages == [] and ledger(app, rid, MailKind.INVITATION) == []
        reminders = send_configured(app, rid, MailKind.REMINDER)  # another job: not blocked
    assert not locks.is_held(engine, name, fallback_dir=app.instance_path)
    invitations = send_configured(app, rid, MailKind.INVITATION)
    people = invited(app, rid)
    assert reminders.sent_now == invitations.sent_now == len(people)
    assert len(smtp.messages) == 2 * len(people)
    with db.session_scope(app) as session:
        done = mailjobs.progress(
            session, engine, rid, MailKind.INVITATION, lock_dir=app.instance_path
        )
    assert (done.total, done.sent, done.done, done.running, done.stopped) == (
        len(people),
        len(people),
        True,
        False,
        "",
    )
    assert done.finished_at is not None and done.started_at is not None


def test_a_run_that_ends_while_the_page_reads_is_not_taken_as_cut_short(
    app: Flask, open_round: OpenRound, smtp: Server
) -> None:
    """The admin page's request read the run as started; the run then ends, writing its end
    before it lets go of its lock; only then does the page ask about the lock. On SQLite the
    request's snapshot still shows no end: the page must not say the run was cut short (and
    stop following it)."""
    use_smtp(app, smtp)
    rid, engine = open_round.round_id, app.extensions["candor.engine"]
    page = app.extensions["candor.sessionmaker"]()

    def the_page_reads(held: bool) -> None:
        assert held
        page.connection(execution_options={READ_ONLY_OPTION: True})
        run = page.scalars(select(MailRun).where(MailRun.round_id == rid)).one()
        assert run.started_at is not None and run.finished_at is None

    try:
        mailjobs.send_configured(
            app.config,
            app.instance_path,
            app.extensions["candor.sessionmaker"],
            rid,
            MailKind.INVITATION,
            app.extensions["candor.kek"],
            on_lock=the_page_reads,
        )
        found = mailjobs.progress(
            page, engine, rid, MailKind.INVITATION, lock_dir=app.instance_path
        )
    finally:
        page.close()
    assert not found.running and not found.interrupted
    assert found.done and found.finished_at is not None


def test_a_stopped_run_is_recorded_for_the_admin_page(
    app: Flask, open_round: OpenRound, smtp: Server
) -> None:
    use_smtp(app, smtp)
    app.config["SMTP_STARTTLS"] = True  # this server does not offer it
    report = send_configured(app, open_round.round_id, MailKind.INVITATION)
    assert "does not offer STARTTLS" in report.stopped
    engine = app.extensions["candor.engine"]
    with db.session_scope(app) as session:
        found = mailjobs.progress(
            session, engine, open_round.round_id, MailKind.INVITATION, lock_dir=app.instance_path
        )
    assert found.stopped == report.stopped and found.waiting == found.total > 0
    assert not found.done and not found.interrupted
    app.config["MAIL_BACKEND"] = ""  # no mail set up: said on the run too
    with pytest.raises(transports.MailError, match="No mail is set up"):
        send_configured(app, open_round.round_id, MailKind.REMINDER)
    with db.session_scope(app) as session:
        found = mailjobs.progress(
            session, engine, open_round.round_id, MailKind.REMINDER, lock_dir=app.instance_path
        )
    assert found.stopped.startswith("No mail is set up") and found.total == 0


def test_the_tick_carries_on_a_send_cut_short_in_a_manual_programme(
    app: Flask, open_round: OpenRound
) -> None:
    """A send started from the admin page and cut short (a restarted server) finishes by the
    next tick, though a manual programme's rounds are otherwise left to the admin."""
    from survey.services import scheduler

    rid = open_round.round_id
    app.config["MAIL_FROM"] = SENDER  # as `send` uses: the same Message-IDs on every run
    outbox = transports.FileOutbox(app.config["MAIL_OUTBOX_DIR"])
    with pytest.raises(KeyboardInterrupt):
        send(app, rid, MailKind.INVITATION, CrashAfter(outbox, 3))
    calls: list[tuple[int, str]] = []

    def sender(round_id: int, kind: str) -> str:
        calls.append((round_id, kind))
        return send_configured(app, round_id, MailKind(kind)).summary()

    factory, kek = app.extensions["candor.sessionmaker"], app.extensions["candor.kek"]
    report = scheduler.tick(factory, kek, dt.date(2026, 11, 3), sender)
    assert calls == [(rid, "invitation")] and not report.errors
    people = invited(app, rid)
    assert {d.status for d in ledger(app, rid, MailKind.INVITATION)} == {"sent"}
    assert len(outbox_messages(Path(app.config["MAIL_OUTBOX_DIR"]))) == len(people)
    scheduler.tick(factory, kek, dt.date(2026, 11, 3), sender)
    assert calls == [(rid, "invitation")]  # nothing left: nothing sent again
