"""A real gunicorn with the shipped config: no log line carries a code, a client or a referrer.

The requests come from a distinctive loopback address (127.0.0.9), with a distinctive user
agent and referrer, so finding any of them in the server's output (access and error log, app
log, stdout and stderr) would be a leak. They cover a legacy path link, the fragment page,
garbage posted to the survey, a server error on a survey route (the round's stored items are
corrupted, so the view raises: no hook in the code), and a request gunicorn cannot parse.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask

from survey import db
from survey.models import Round
from tests.appserver import SERVER_LOG
from tests.conftest import OpenRound

pytestmark = pytest.mark.slow

CLIENT = "127.0.0.9"  # loopback, but not the address the server listens on
AGENT = "CandorLogProbe/9.9 (agent-marker-7f3e)"
REFERRER = "https://referrer-marker-51c2.invalid/inbox?message=42"
LOG_WAIT_SECONDS = 10


def _request(base: str, method: str, path: str, body: str = "", **headers: str) -> int:
    """Send one request from CLIENT with the distinctive headers; return the status."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(
        url.hostname or "", url.port, timeout=10, source_address=(CLIENT, 0)
    )
    try:
        conn.request(
            method, path, body or None, {"User-Agent": AGENT, "Referer": REFERRER, **headers}
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _malformed(base: str, path: str) -> None:
    """Send a request line with a header line gunicorn refuses to parse."""
    url = urlsplit(base)
    with socket.create_connection(
        (url.hostname, url.port), timeout=10, source_address=(CLIENT, 0)
    ) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nUser-Agent: {AGENT}\r\n"
            "no colon in this header line\r\n\r\n".encode()
        )
        sock.recv(4096)


def _log_once(log: Path, *expected: str) -> str:
    """Return the server's output once every expected piece is in it (lines arrive late)."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while True:
        text = log.read_text(errors="replace")
        if all(piece in text for piece in expected) or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def test_server_logs_name_no_code_client_agent_or_referrer(
    server: str, app: Flask, open_round: OpenRound, tmp_path: Path
) -> None:
    round_id = open_round.round_id
    code = next(iter(open_round.tokens.values()))
    secret = code.split(".", 1)[1]
    form = "application/x-www-form-urlencoded"

    assert _request(server, "GET", f"/s/{round_id}/{code}") == 200  # a legacy path link
    assert _request(server, "GET", f"/s/{round_id}") == 200  # a fragment link: no code sent
    assert _request(server, "GET", f"/s/{round_id}?lang=de&code={code}") == 200
    garbage = f"token={code}&q_x=%00%ff&comment=" + "z" * 300
    assert _request(server, "POST", f"/s/{round_id}", garbage, **{"Content-Type": form}) == 400
    checkin = json.dumps({"code": code, "blinded": "not base64!"})
    headers = {"Content-Type": "application/json"}
    assert _request(server, "POST", f"/s/{round_id}/checkin", checkin, **headers) == 404

    with db.session_scope(app) as session:  # the survey view now raises on every request
        rnd = session.get(Round, round_id)
        assert rnd is not None
        rnd.items = {"asked": 5}
        rnd.public_key = bytes(32)  # so the workers read the round's frozen facts again
        session.commit()
    assert _request(server, "GET", f"/s/{round_id}/{code}") == 500
    assert _request(server, "GET", f"/s/{round_id}") == 500
    _malformed(server, f"/s/{round_id}/{code}")

    path_line = f'"GET /s/{round_id}/[redacted] HTTP/1.1"'
    text = _log_once(
        tmp_path / SERVER_LOG,
        f"{path_line} 200",
        f"{path_line} 500",
        f'"GET /s/{round_id} HTTP/1.1" 500',
        f"Exception on /s/{round_id}/[redacted] [GET]",
        "Invalid request from ip=[redacted]",
    )
    lines = text.splitlines()
    # What should be there is there: the filter ran on access, error and app lines alike.
    assert f"{path_line} 200" in text and f"{path_line} 500" in text, text
    assert f"Exception on /s/{round_id}/[redacted] [GET]" in text, text
    assert "Traceback" in text and "Invalid request from ip=[redacted]" in text, text
    assert f'"GET /s/{round_id}?[redacted] HTTP/1.1" 200' in text, text
    # And nothing else.
    assert code not in text and secret not in text, text
    assert CLIENT not in text, text
    for line in lines:  # the listening address is the only loopback address logged
        assert "127.0.0.1" not in line or "Listening at" in line, line
    assert "CandorLogProbe" not in text and "agent-marker" not in text, text
    assert "referrer-marker" not in text, text
    survey_lines = [line for line in lines if re.search(r'"GET /s/', line)]
    assert len(survey_lines) >= 5, text
    # Check-ins, ballots and the form that does both leave no access-log line at all (their
    # times would outlive the round).
    assert "/checkin" not in text and "/ballot" not in text, text
    assert '"POST /s/' not in text, text
