"""The logging set-up: what the redaction filter removes, and that every logger gets it.

A real gunicorn reads the shipped config in tests/e2e/test_logs.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from gunicorn.config import Config

from survey import db, logs
from survey.gunicorn_conf import RedactingLogger
from survey.models import Round
from tests.conftest import OpenRound

CODE = "3.Qm9vZ2xlQm9vZ2xlQm9vZ2xlQm9vZ2xlQm9vZ2xl"
BARE = "Qm9vZ2xlQm9vZ2xlQm9vZ2xl"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f'"GET /s/1/{CODE} HTTP/1.1" 200', '"GET /s/1/[redacted] HTTP/1.1" 200'),
        (f"Exception on /s/12/{BARE} [GET]", "Exception on /s/12/[redacted] [GET]"),
        ("Exception on /s/12/short [POST]", "Exception on /s/12/[redacted] [POST]"),
        (f"https://pulse.example.org/s/{BARE}", "https://pulse.example.org/s/[redacted]"),
        (f"/s/1#{CODE}", "/s/1#[redacted]"),
        (f"/s/1?code={CODE}", "/s/1?[redacted]"),
        (f"code {CODE} typed", "code [redacted] typed"),
        ('10.1.2.3 - - [28/Nov/2026] "GET / HTTP/1.1"', '- - - [28/Nov/2026] "GET / HTTP/1.1"'),
        ("Invalid request from ip=10.1.2.3: bad", "Invalid request from ip=[redacted]: bad"),
        ("Invalid request from ip=::1: bad", "Invalid request from ip=[redacted]: bad"),
        # Kept: the survey's own sub-paths, staff pages, ordinary numbers.
        ("/s/1 /s/1/checkin /s/1/ballot", "/s/1 /s/1/checkin /s/1/ballot"),
        ("/s/1/done /s/1/keys/3", "/s/1/done /s/1/keys/3"),
        ("/dashboard/units/4 took 3.25 ms", "/dashboard/units/4 took 3.25 ms"),
        ("/s/1/[redacted]", "/s/1/[redacted]"),
    ],
)  # fmt: skip
def test_redact(line: str, expected: str) -> None:
    assert logs.redact(line) == expected


def test_filter_redacts_arguments_and_tracebacks() -> None:
    try:
        raise ValueError(f"bad code {CODE}")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "survey", logging.ERROR, __file__, 1, "Exception on %s [%s]", (f"/s/1/{CODE}", "GET"),
        exc_info,
    )  # fmt: skip
    assert logs.RedactTokens().filter(record)
    text = logging.Formatter().format(record)
    assert CODE not in text and "Exception on /s/1/[redacted] [GET]" in text
    assert "ValueError: bad code [redacted]" in text


def test_survey_actions_are_the_blueprints_sub_paths(app: Flask) -> None:
    """Every fixed segment after /s/<round>/ is kept; anything else is taken for a code."""
    words = set()
    for rule in app.url_map.iter_rules():
        parts = rule.rule.split("/")
        if rule.rule.startswith("/s/<int:round_id>/"):
            words.add(parts[3])
    assert "<token>" in words  # the legacy path link, which is redacted
    assert words - {"<token>"} == logs.SURVEY_ACTIONS


def test_every_logger_is_redacted(app: Flask) -> None:
    for name in (app.name, "werkzeug", *logs.GUNICORN_LOGGERS):
        found = logging.getLogger(name).filters
        assert any(isinstance(f, logs.RedactTokens) for f in found), name
    for handler in logging.getLogger(app.name).handlers:
        assert any(isinstance(f, logs.RedactTokens) for f in handler.filters)
    assert app.logger is logging.getLogger(app.name)


def test_flask_exception_line_is_redacted(
    app: Flask, client: FlaskClient, open_round: OpenRound, caplog: pytest.LogCaptureFixture
) -> None:
    """A survey view that fails on a legacy path link logs its path without the code."""
    code = next(iter(open_round.tokens.values()))
    with db.session_scope(app) as session:
        rnd = session.get(Round, open_round.round_id)
        assert rnd is not None
        rnd.items = {"asked": 5}  # not a list: the survey view raises
        session.commit()
    app.config["PROPAGATE_EXCEPTIONS"] = False  # log and answer 500, as in production
    with caplog.at_level(logging.ERROR):
        assert client.get(f"/s/{open_round.round_id}/{code}").status_code == 500
    assert f"Exception on /s/{open_round.round_id}/[redacted] [GET]" in caplog.text
    assert code not in caplog.text and "Traceback" in caplog.text


@pytest.fixture
def gunicorn_loggers() -> Iterator[None]:
    """Give gunicorn's loggers back as they were: a gunicorn Logger sets them up globally."""
    loggers = [logging.getLogger(name) for name in logs.GUNICORN_LOGGERS]
    saved = [(lg.handlers[:], lg.filters[:], lg.propagate, lg.level) for lg in loggers]
    yield
    for lg, (handlers, filters, propagate, level) in zip(loggers, saved, strict=True):
        lg.handlers[:], lg.filters[:], lg.propagate = handlers, filters, propagate
        lg.setLevel(level)


@pytest.mark.usefixtures("gunicorn_loggers")
def test_gunicorn_logger_names_no_client_on_survey_routes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Even with an operator's format that asks for the client, survey lines give none."""
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set(
        "access_log_format",
        '%(h)s "%(r)s" %(U)s %(q)s %(a)s %(f)s %({user-agent}i)s %({remote_addr}e)s',
    )
    logger = RedactingLogger(cfg)
    handlers = logging.getLogger("gunicorn.access").handlers
    assert handlers and all(
        any(isinstance(f, logs.RedactTokens) for f in h.filters) for h in handlers
    )
    for path in (f"/s/1/{CODE}", "/privacy"):
        environ = {
            "REQUEST_METHOD": "GET",
            "RAW_URI": f"{path}?lang=de",
            "PATH_INFO": path,
            "QUERY_STRING": "lang=de",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "10.9.8.7",
            "HTTP_USER_AGENT": "Agent/Smith",
            "HTTP_REFERER": "https://referrer.example/",
        }
        request = SimpleNamespace(headers=[("User-Agent", "Agent/Smith")])
        response = SimpleNamespace(status="200 OK", sent=10, headers=[])
        logger.access(response, request, environ, dt.timedelta(milliseconds=5))
    survey, staff = capsys.readouterr().out.splitlines()
    request_line = '"GET /s/1/[redacted]?[redacted] HTTP/1.1"'
    assert survey == f"- {request_line} /s/1/[redacted] [redacted] - - - -"
    assert "10.9.8.7" in staff and "Agent/Smith" in staff  # the operator asked, off survey routes


@pytest.mark.usefixtures("gunicorn_loggers")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/s/1/checkin"),
        ("POST", "/s/1/ballot"),
        ("POST", "/s/1"),  # the form without JavaScript: check-in and ballot in one
        ("POST", f"/s/1/{CODE}"),
        ("GET", "/s/1/done"),  # the thanks page that follows it
        ("GET", "/s/1/keys/3"),  # names the code's storage group: a group's openings, dated
    ],
)
def test_answer_steps_leave_no_access_line(
    capsys: pytest.CaptureFixture[str], method: str, path: str
) -> None:
    """No line says when someone checked in or answered, or when someone of a storage group
    opened their link: its time would outlive the round."""
    cfg = Config()
    cfg.set("accesslog", "-")
    logger = RedactingLogger(cfg)
    environ = {
        "REQUEST_METHOD": method,
        "RAW_URI": path,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    logger.access(response, SimpleNamespace(headers=[]), environ, dt.timedelta(milliseconds=5))
    shown = {**environ, "REQUEST_METHOD": "GET", "RAW_URI": "/s/1", "PATH_INFO": "/s/1"}
    logger.access(response, SimpleNamespace(headers=[]), shown, dt.timedelta(milliseconds=5))
    (line,) = capsys.readouterr().out.splitlines()  # the survey page's line only
    assert '"GET /s/1 HTTP/1.1" 200' in line


class Collect(logging.Handler):
    """A handler set up outside Candor (as an operator's root handler would be)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.mark.usefixtures("gunicorn_loggers")
@pytest.mark.parametrize(
    "name",
    ["survey", "survey.web.employee", "survey.db", "werkzeug", *logs.GUNICORN_LOGGERS],
)
def test_no_logger_lets_a_code_through(app: Flask, name: str) -> None:
    """Whichever logger a line goes through (Flask's, a module's, Werkzeug's, gunicorn's),
    a handler that Candor did not set up receives it without the code or its secret."""
    RedactingLogger(Config())  # gunicorn's own set-up, as in a worker
    collect = Collect()
    logger = logging.getLogger(name)
    # gunicorn's loggers pass nothing up: listen beside gunicorn's handlers there.
    listener = logging.getLogger() if logger.propagate else logger
    listener.addHandler(collect)
    secret = CODE.split(".", 1)[1]
    try:
        try:
            raise RuntimeError(f"failed on code {CODE}")
        except RuntimeError:
            logger.error(
                '10.1.2.3 - - [x] "POST /s/%d/%s HTTP/1.1" 500 with %s',
                1,
                CODE,
                {"code": CODE},
                exc_info=True,
            )
    finally:
        listener.removeHandler(collect)
    assert collect.lines
    text = "\n".join(collect.lines)
    assert "Traceback" in text and "10.1.2.3" not in text
    assert CODE not in text and secret not in text
