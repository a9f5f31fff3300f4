"""A real SMTP server on loopback for tests (aiosmtpd), and what it received.

Tests of several layers use it: import the fixtures from here (``start_server``, ``smtp``).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from survey.services.transports import SmtpMailer

USER, PASSWORD = "candor", "right password"


@dataclass
class Received:
    """One message as the server got it."""

    rcpt: list[str]
    message: EmailMessage


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps every message and can refuse some recipients."""

    messages: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    rcpt_attempts: Counter[str] = field(default_factory=Counter)
    delay: float = 0.0  # seconds to take over each message, so concurrent senders overlap

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.rcpt_attempts[address] += 1
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(Received(list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


class LoopbackController(Controller):
    """aiosmtpd's controller on an ephemeral port chosen by the kernel (no port races)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def check_password(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class Server:
    """A running test server and what it received."""

    port: int
    recorder: Recorder

    def mailer(self, **options: Any) -> SmtpMailer:
        options.setdefault("starttls", False)
        return SmtpMailer("127.0.0.1", self.port, timeout=5, **options)

    @property
    def messages(self) -> list[Received]:
        return self.recorder.messages


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    """Yield a function that starts an SMTP server on loopback; every server stops at the end."""
    running: list[Controller] = []

    def start(**smtp_options: Any) -> Server:
        recorder = Recorder()
        controller = LoopbackController(
            recorder, hostname="127.0.0.1", port=0, server_hostname="smtp.test", **smtp_options
        )
        controller.start()
        running.append(controller)
        return Server(controller.port, recorder)

    yield start
    for controller in running:
        controller.stop()


@pytest.fixture
def smtp(start_server: Callable[..., Server]) -> Server:
    """A plain SMTP server: no STARTTLS, no authentication."""
    return start_server()
