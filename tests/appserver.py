"""Serving an instance with a real gunicorn for the tests that need one (end-to-end, deploy).

One way to start it: the test's own environment without any ``CANDOR_*`` variable, then the
instance's settings; the shipped settings file; a free loopback port; stdout and stderr into a
log file that a failure to start shows.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).with_name("gunicorn")
SHIPPED_CONFIG = "python:survey.gunicorn_conf"  # what an installed wheel serves with
SERVER_START_SECONDS = 30
SERVER_LOG = "gunicorn.log"  # the server's stdout and stderr, beside its instance or tmp_path
STOP_SECONDS = 15


def free_port() -> int:
    """Return a loopback TCP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(**settings: str) -> dict[str, str]:
    """Return this process's environment without its ``CANDOR_*`` variables, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    env.update(settings)
    return env


def start(
    env: dict[str, str],
    port: int,
    log: Path,
    *,
    config: str = SHIPPED_CONFIG,
    workers: int | None = None,
    app: str | None = "app:app",
) -> subprocess.Popen[bytes]:
    """Start gunicorn from the checkout on ``127.0.0.1:port`` and wait until it serves a page.

    :param config: gunicorn's ``--config``: the shipped settings, or ``gunicorn.conf.py`` (the
        file a checkout's gunicorn reads from the current directory).
    :param workers: ``--workers``; None leaves it to the config (``CANDOR_WORKERS``).
    :param app: the WSGI app; None leaves it to the config (``survey.wsgi:app``).
    """
    argv = [str(GUNICORN), "--config", config, "--bind", f"127.0.0.1:{port}"]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if app is not None:
        argv.append(app)
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 (fixed argv)
            argv, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_until_serving(proc, f"http://127.0.0.1:{port}/privacy", log)
    except BaseException:
        stop(proc)
        raise
    return proc


def wait_until_serving(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Return once ``url`` answers 200; fail the test, with the log, if gunicorn exits first."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    pytest.fail(
        f"gunicorn did not answer {url} within {SERVER_START_SECONDS} s:\n{log.read_text()}"
    )


def tell_to_stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask gunicorn to stop now (SIGINT, its quick shutdown), without waiting for it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn and wait for it to exit, killing it if it takes too long."""
    tell_to_stop(proc)
    try:
        proc.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
