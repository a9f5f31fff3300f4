"""The shipped gunicorn settings: ``gunicorn -c python:survey.gunicorn_conf [survey.wsgi:app]``.

What they decide: no log line names a client, and none carries an access code. The access log
(stdout) has no client address, user agent or referrer for any route; on survey routes the
request's headers and environment cannot be logged either, whatever ``access_log_format`` an
operator sets; and every error and access line goes through :class:`survey.logs.RedactTokens`.
A source checkout's ``gunicorn.conf.py`` imports these, so plain ``gunicorn app:app`` run from
the checkout uses them too. Command-line options still win over everything here.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from survey import logs

__all__ = [
    "access_log_format",
    "accesslog",
    "control_socket_disable",
    "logger_class",
    "timeout",
    "wsgi_app",
    "workers",
]

SURVEY_PREFIX = "/s/"
# The two steps of answering, and the thanks page that follows an answer sent without
# JavaScript, never written to the access log. Every POST under /s/ is an answer step (the
# check-in, the ballot, or the form that does both).
UNLOGGED_STEPS = ("/checkin", "/ballot", "/done")
# Nor the ballot key a survey page's script fetches: it names the code's storage group, so its
# lines would date each opening of a link per group, finer than the published participation.
UNLOGGED_KEYS = "/keys/"
# Access-log atoms that name the client: address, referrer and user agent.
CLIENT_ATOMS = ("h", "f", "a")


def _workers() -> int:
    """Return ``CANDOR_WORKERS``, else two per CPU this process may run on."""
    raw = os.environ.get("CANDOR_WORKERS", "").strip()
    if not raw:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        return 2 * (cpus or os.cpu_count() or 1)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"CANDOR_WORKERS must be a whole number of at least 1, got {raw!r}")
    return int(raw)


class RedactingLogger(Logger):  # type: ignore[misc]  # gunicorn is untyped
    """gunicorn's logger, with the access-code filter on its loggers and handlers, and no
    client, header or environment atom on survey routes."""

    def setup(self, cfg: Any) -> None:
        """Set up gunicorn's handlers as usual (also on a reload), then add the filter."""
        super().setup(cfg)
        for name in logs.GUNICORN_LOGGERS:
            logs.redact_logger(logging.getLogger(name), handlers=True)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        """Log a request, except the steps of answering and the thanks page after them: a
        stored line per check-in and per ballot would keep, after the round, the timing a live
        observer sees (PRIVACY.md); nor the fetch of a ballot key, which names a group."""
        path = str(environ.get("PATH_INFO") or "")
        if path.startswith(SURVEY_PREFIX) and (
            environ.get("REQUEST_METHOD") == "POST"
            or path.rstrip("/").endswith(UNLOGGED_STEPS)
            or UNLOGGED_KEYS in path
        ):
            return
        super().access(resp, req, environ, request_time)

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        """Return the access-log atoms; on a survey route, without anything naming the client."""
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = str(environ.get("PATH_INFO") or "")
        if not (path.startswith(SURVEY_PREFIX) or SURVEY_PREFIX in str(environ.get("RAW_URI"))):
            return atoms
        kept = {
            key: value
            for key, value in atoms.items()
            if not (key.startswith("{") and key.endswith(("}i", "}e")))
        }
        kept.update(dict.fromkeys(CLIENT_ATOMS, "-"))
        kept["r"], kept["U"] = logs.redact(str(kept["r"])), logs.redact(path)
        kept["q"] = logs.REDACTED if kept.get("q") else "-"
        return kept


wsgi_app = "survey.wsgi:app"
workers = _workers()
timeout = 30
# gunicorn's control socket is an admin interface Candor does not use.
control_socket_disable = True
accesslog = "-"
# Time, request line (access codes redacted), status, bytes, milliseconds: nothing about who.
access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(M)sms'
logger_class = RedactingLogger
