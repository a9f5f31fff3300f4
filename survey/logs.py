"""What the logs may say: one logging set-up, and the filter that keeps access codes out of it.

Invariant: no line that Candor, Flask, Werkzeug or gunicorn logs through the loggers set up
here carries an access code. Codes are recognised by shape, in the message and in any
traceback, wherever they appear:

- the path segment after ``/s/<round>/`` (the legacy path link), unless it names one of the
  survey's own sub-paths (:data:`SURVEY_ACTIONS`);
- any segment shaped like an access code, ``<key id>.<secret>`` (``3.Qm9vZ2xl…``);
- any bare 20–64 character base64url segment under ``/s/`` (a token without its key id);
- the query string or fragment of a survey path.

Each becomes ``[redacted]``. Client addresses are dropped from request lines too (Werkzeug's
development server starts each line with one, gunicorn names one when a request is malformed).
"""

from __future__ import annotations

import logging
import logging.config
import re
from typing import Any

from flask import Flask

REDACTED = "[redacted]"
# The survey blueprint's fixed sub-paths (survey/web/employee.py); any other segment after
# /s/<round>/ is treated as an access code.
SURVEY_ACTIONS = frozenset({"checkin", "ballot", "done", "keys"})
# gunicorn's own loggers; its Logger class (survey/gunicorn_conf.py) owns their handlers.
GUNICORN_LOGGERS = ("gunicorn.error", "gunicorn.access")
LINE_FORMAT = "[%(asctime)s] %(levelname)s in %(name)s: %(message)s"

CODE = re.compile(r"(?<![\w.-])\d+\.[A-Za-z0-9_-]{20,}(?![\w-])")
BARE_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
# A survey path: /s/ and everything up to whitespace, a quote or an angle bracket.
SURVEY_PATH = re.compile(r"/s/[^\s\"'<>]*")
# Werkzeug's development server: "<address> - - [date] ...".
CLIENT_ADDRESS = re.compile(r"^\S+ - - \[")
# gunicorn: "Invalid request from ip=<address>: <reason>".
GUNICORN_CLIENT = re.compile(r"(?<=\bip=)[0-9A-Fa-f.:]+?(?=:\s|\s|$)")


def redact(text: str) -> str:
    """Return ``text`` with every access code, survey query string and client address removed."""
    text = CLIENT_ADDRESS.sub("- - - [", text)
    text = GUNICORN_CLIENT.sub(REDACTED, text)
    text = SURVEY_PATH.sub(_redact_survey_path, text)
    return CODE.sub(REDACTED, text)


def _redact_survey_path(match: re.Match[str]) -> str:
    path = match.group()
    cut = min((i for i in (path.find("?"), path.find("#")) if i >= 0), default=len(path))
    path, rest = path[:cut], path[cut:]
    segments = path.split("/")  # ["", "s", "<round>", "<code or action>", ...]
    for i, segment in enumerate(segments[2:], start=2):
        after_round = i == 3 and segments[2].isdigit()
        if (after_round and segment and segment not in SURVEY_ACTIONS) or BARE_TOKEN.fullmatch(
            segment
        ):
            segments[i] = REDACTED
    if rest[1:]:
        rest = rest[0] + REDACTED
    return "/".join(segments) + rest


class RedactTokens(logging.Filter):
    """Rewrite a record so that neither its message nor its traceback holds an access code.

    The filter works on the fully formatted message, so it does not depend on how a library
    splits a line into a format and arguments; it never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place and keep it."""
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def logging_config(app_logger: str) -> dict[str, Any]:
    """Return the ``dictConfig`` of the app's own logger and Werkzeug's.

    Both print to stderr through one redacting handler, and carry the filter themselves, so a
    record is already clean when it propagates to handlers set up elsewhere (pytest's, or a
    root handler an operator adds). Loggers configured elsewhere (gunicorn's) are left alone.
    """

    def redacting() -> dict[str, Any]:
        return {"level": "INFO", "handlers": ["stderr"], "filters": ["redact"]}

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactTokens}},
        "formatters": {"line": {"format": LINE_FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["redact"],
            }
        },
        "loggers": {app_logger: redacting(), "werkzeug": redacting()},
    }


def redact_logger(logger: logging.Logger, *, handlers: bool = False) -> None:
    """Add the redaction filter to ``logger`` (and its handlers), once."""
    targets: list[logging.Filterer] = [logger, *(logger.handlers if handlers else [])]
    for target in targets:
        if not any(isinstance(f, RedactTokens) for f in target.filters):
            target.addFilter(RedactTokens())


def init_app(app: Flask) -> None:
    """Set up logging for ``app``: its own logger, Werkzeug's and gunicorn's are all redacted.

    gunicorn's loggers keep the handlers gunicorn gave them (``dictConfig`` would remove
    them), so they get the filter directly. Records of Candor's module loggers
    (``survey.web.employee``…) pass through the app logger's redacting handler first, and the
    filter rewrites a record in place, so handlers further up see it clean.
    """
    logging.config.dictConfig(logging_config(app.name))  # Flask's app.logger
    for name in GUNICORN_LOGGERS:
        redact_logger(logging.getLogger(name))
