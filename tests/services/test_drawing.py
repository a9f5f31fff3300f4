"""The drawing process (survey.services.drawing / .drawer): drawn apart, shared, restarted,
bounded in time and queue, and every failure a clear error; the web layer answers them with a
page (503 + Retry-After when busy), never a traceback.

Most tests run their own drawer in a private folder, so their slow or failing drawings never
delay another test's charts (the ordinary drawer is shared by the whole test run).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey.services import chartcache, drawing
from tests.conftest import Org, login
from tests.helpers import release_rounds
from tests.services import drawings


@pytest.fixture
def own_drawer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Use a drawer of this test's own (a short path: AF_UNIX allows 108 bytes); stop it after."""
    where = drawing.private(Path(tempfile.mkdtemp(prefix="candor-t-")))
    monkeypatch.setattr(drawing, "folder", lambda: where)
    yield where
    pid = _pid(where)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(where, ignore_errors=True)


def _pid(where: Path) -> int | None:
    try:
        pid = int((where / drawing.PID_NAME).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def test_drawn_by_one_shared_process_that_is_not_this_one(own_drawer: Path) -> None:
    first = int(drawing.apart(drawings.whose, None))
    assert first != os.getpid() and first == _pid(own_drawer)
    assert int(drawing.apart(drawings.whose, None)) == first  # the same process, kept


def test_concurrent_first_drawings_start_one_drawer(own_drawer: Path) -> None:
    pids: list[int] = []

    def draw() -> None:
        drawing.warm()
        pids.append(int(drawing.apart(drawings.whose, None)))

    threads = [threading.Thread(target=draw) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pids) == 6 and len(set(pids)) == 1


def test_a_killed_drawer_is_started_again(own_drawer: Path) -> None:
    first = int(drawing.apart(drawings.whose, None))
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _pid(own_drawer) == first and time.monotonic() < deadline:
        time.sleep(0.02)
    second = int(drawing.apart(drawings.whose, None))
    assert second != first and second == _pid(own_drawer)


def test_a_failed_drawing_is_a_clear_error_and_the_drawer_lives_on(own_drawer: Path) -> None:
    with pytest.raises(drawing.DrawingError, match="ValueError: no such chart") as failed:
        drawing.apart(drawings.broken, "no such chart")
    assert not isinstance(failed.value, drawing.DrawingBusy)
    pid = _pid(own_drawer)
    assert pid is not None and int(drawing.apart(drawings.whose, None)) == pid


def test_kept_drawings_are_stored_by_the_drawer_and_answered_from_disk(
    own_drawer: Path, tmp_path: Path
) -> None:
    keep = (str(tmp_path), "k1", "png")
    body = drawing.apart(drawings.whose, None, keep)
    assert chartcache.peek(*keep) == body  # stored by the drawer itself
    chartcache.store(str(tmp_path), "k2", "png", b"on disk")
    assert drawing.apart(drawings.whose, None, (str(tmp_path), "k2", "png")) == b"on disk"


def test_a_slow_drawing_answers_busy_in_time_and_is_kept_for_the_retry(
    own_drawer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawing.apart(drawings.whose, None)  # started: the wait below is the drawing's alone
    monkeypatch.setattr(drawing, "WAIT_S", 0.5)
    keep = (str(tmp_path), "slow", "pdf")
    t0 = time.monotonic()
    with pytest.raises(drawing.DrawingBusy):
        drawing.apart(drawings.slow, 1.5, keep)
    assert time.monotonic() - t0 < 1.2
    deadline = time.monotonic() + 10
    while chartcache.peek(*keep) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chartcache.peek(*keep) == b"slow"  # finished after the request gave up
    assert drawing.apart(drawings.slow, 1.5, keep) == b"slow"


def test_a_full_queue_is_refused_at_once(own_drawer: Path) -> None:
    drawing.apart(drawings.whose, None)
    answers: list[Any] = []

    def draw() -> None:
        try:
            answers.append(drawing.apart(drawings.slow, 0.2))
        except drawing.DrawingBusy as exc:
            answers.append(exc)

    threads = [threading.Thread(target=draw) for _ in range(drawing.QUEUE_MAX + 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [a for a in answers if isinstance(a, drawing.DrawingBusy)]
    assert refused and all("waiting already" in str(a) for a in refused)
    assert answers.count(b"slow") >= drawing.QUEUE_MAX


def test_wait_is_inside_gunicorns_timeout() -> None:
    from survey import gunicorn_conf

    assert drawing.START_S < drawing.WAIT_S < gunicorn_conf.timeout - 5


@pytest.mark.parametrize("mode", [0o755, 0o770, 0o701])
def test_a_folder_others_can_enter_is_refused(tmp_path: Path, mode: int) -> None:
    where = tmp_path / "d"
    where.mkdir(mode=0o700)
    where.chmod(mode)
    with pytest.raises(drawing.DrawingError, match="only this user"):
        drawing.private(where)


def test_a_linked_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(drawing.DrawingError):
        drawing.private(tmp_path / "link")


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (drawing.DrawingBusy("16 drawings are waiting already"), 503, "being drawn just now"),
        (drawing.DrawingError("drawing failed:\nTraceback (most recent"), 500, "not be drawn"),
    ],
)
def test_chart_and_pdf_failures_answer_a_plain_page(
    app: Flask,
    client: FlaskClient,
    organisation: Org,
    monkeypatch: pytest.MonkeyPatch,
    error: drawing.DrawingError,
    status: int,
    words: str,
) -> None:
    release_rounds(app, organisation.program_id, 1)

    def apart(*_args: Any, **_kwargs: Any) -> bytes:
        raise error

    monkeypatch.setattr(drawing, "apart", apart)
    login(client, "hr")
    program, lab = organisation.program_id, organisation.units["Lab"]
    for url in (
        f"/charts/trend/{program}/{lab}/morale.png",
        f"/charts/heatmap/{program}/1/{lab}.png",
        f"/reports/{program}/1.pdf",
    ):
        response = client.get(url)
        assert response.status_code == status, url
        page = response.data.decode()
        assert words in page and "Traceback" not in page, url
        assert response.mimetype == "text/html"
        if status == 503:
            assert response.headers["Retry-After"].isdigit()
        else:
            assert "Retry-After" not in response.headers


def test_the_drawer_stops_when_idle_or_retiring_never_mid_drawing() -> None:
    from survey.services.drawer import Drawer

    drawer = Drawer()
    assert not drawer.should_stop()  # just started
    drawer.last_done -= drawing.IDLE_S + 1
    assert drawer.should_stop()  # idle
    drawer.last_done = time.monotonic()
    drawer.retiring = True  # a large drawing left it holding too much memory
    assert drawer.should_stop()
    drawer.started = time.monotonic()
    assert not drawer.should_stop()  # never while drawing
    drawer.started -= drawing.DRAW_LIMIT_S + 1
    assert drawer.should_stop()  # unless the drawing hangs
    drawer.started = None
    drawer.jobs.put_nowait((None, None))  # type: ignore[arg-type]
    assert not drawer.should_stop()  # nor with drawings waiting


def test_a_removed_folder_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cleaner of the temporary directory may remove the drawer's folder between drawings:
    the next start makes it again (private), instead of failing on it ever after."""
    where = tmp_path / "drawer"
    monkeypatch.setattr(drawing, "_location", lambda: where)
    assert drawing.folder() == where and where.is_dir()
    where.rmdir()
    assert drawing.folder() == where
    assert where.is_dir() and (where.stat().st_mode & 0o777) == 0o700


def test_a_drawer_that_cannot_be_started_is_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No process to be had just now (out of processes or files) asks to try again (503),
    never a 500."""

    def refused(*_args: object, **_kwargs: object) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(drawing.subprocess, "Popen", refused)
    with pytest.raises(drawing.DrawingBusy):
        drawing._spawn()
