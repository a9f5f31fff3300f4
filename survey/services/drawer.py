"""The drawing process: ``survey.services.drawer FOLDER``, started detached by :mod:`.drawing`.

What it decides: how drawings are taken in and done. matplotlib is imported once, at start;
drawings are done one at a time, in arrival order, by one thread (``Figure`` objects, no
``pyplot``), while the main thread takes connections: a job waits in a queue of at most
:data:`~.drawing.QUEUE_MAX`, and one more is told "busy" at once. A job with a place on disk
is answered from the file if another request drew it meanwhile, and what is drawn is stored
there before it is sent, so a request that gave up finds it when it asks again.

It stops by itself after :data:`~.drawing.IDLE_S` without work, once its queue is empty when a
drawing left it holding more than :data:`~.drawing.RETIRE_RSS_MB` (memory a large PDF took and
the allocator kept), and at once (exit status 1)
when one drawing takes longer than :data:`~.drawing.DRAW_LIMIT_S`: the next request starts a
new one. It only ever draws what the workers send it, k-safe manifest content cut to the
reader's scope, into the chart cache the worker named.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import queue
import socket
import struct
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from . import chartcache, drawing

ACCEPT_TICK_S = 1.0  # how often the main thread looks at the clock between connections
READ_S = 10.0  # a connected worker sends its job at once; one that does not is dropped
# Imported at start, so the first drawing does not pay for them.
DRAWING_MODULES = ("survey.domain.charts", "survey.domain.report_pdf")
_PEERCRED = struct.Struct("3i")


class Drawer:
    """One drawing thread fed by a bounded queue, and the clock that decides when to stop."""

    def __init__(self) -> None:
        self.jobs: queue.Queue[tuple[socket.socket, Any]] = queue.Queue(drawing.QUEUE_MAX)
        self.last_done = time.monotonic()
        self.started: float | None = None  # when the drawing under way began
        self.retiring = False  # it holds too much memory: stop once the queue is empty

    def work(self) -> None:
        """Draw the queued jobs one at a time, forever (a daemon thread)."""
        while True:
            conn, job = self.jobs.get()
            self.started = time.monotonic()
            try:
                answer = self.draw(job)
                with contextlib.suppress(OSError):  # the worker may have given up: it is stored
                    drawing.send(conn, answer)
                conn.close()
            finally:  # answered: only now may the main thread decide to stop
                self.retiring = _rss_mb() > drawing.RETIRE_RSS_MB
                self.last_done = time.monotonic()
                self.started = None

    @staticmethod
    def draw(job: Any) -> bytes:
        """Return the pickled answer to one job: ``("ok", bytes)`` or ``("error", text)``."""
        module, name, subject, keep = job
        try:
            found = chartcache.peek(*keep) if keep else None
            if found is None:
                found = getattr(importlib.import_module(module), name)(subject)
                if keep:
                    directory, key, fmt = keep
                    chartcache.store(directory, key, fmt, found)
            return pickle.dumps(("ok", found))
        except Exception:  # noqa: BLE001 - any failure is reported to the worker, not fatal here
            text = traceback.format_exc()
            print(f"candor drawer: drawing {module}.{name} failed:\n{text}", file=sys.stderr)
            return pickle.dumps(("error", text))

    def take(self, conn: socket.socket) -> None:
        """Queue one connection's job, or answer "busy" if the queue is full."""
        conn.settimeout(READ_S)
        try:
            uid = _PEERCRED.unpack(
                conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
            )[1]
            if uid != os.getuid():  # the folder's mode keeps others out; this says so twice
                conn.close()
                return
            job = drawing.receive(conn)
        except (OSError, EOFError, ValueError, struct.error):
            conn.close()
            return
        conn.settimeout(None)
        try:
            self.jobs.put_nowait((conn, job))
        except queue.Full:
            with contextlib.suppress(OSError):
                drawing.send(conn, pickle.dumps(("busy", None)))
            conn.close()

    def should_stop(self) -> bool:
        """Return whether the drawer has been idle long enough, or one drawing hangs."""
        now = time.monotonic()
        started = self.started
        if started is not None and now - started > drawing.DRAW_LIMIT_S:
            print("candor drawer: a drawing hangs; stopping", file=sys.stderr)
            return True
        idle = now - self.last_done > drawing.IDLE_S
        return started is None and self.jobs.empty() and (idle or self.retiring)


def _rss_mb() -> float:
    """Return this process's resident memory in MB (0 where /proc is not there to say)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def serve(folder: Path) -> None:
    """Listen on ``folder``'s socket and draw until idle; exit at once if a drawer listens."""
    path = str(folder / drawing.SOCKET_NAME)
    with drawing.start_lock(folder):
        if drawing.listening(folder):
            return  # another worker's drawer started first
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a dead drawer's
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(drawing.QUEUE_MAX)  # workers may connect while matplotlib loads
        mine = os.stat(path).st_ino
        (folder / drawing.PID_NAME).write_text(f"{os.getpid()}\n")
    for name in DRAWING_MODULES:
        importlib.import_module(name)
    listener.settimeout(ACCEPT_TICK_S)
    drawer = Drawer()
    threading.Thread(target=drawer.work, name="draw", daemon=True).start()
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            pass
        else:
            drawer.take(conn)
        if drawer.should_stop():
            with drawing.start_lock(folder):  # no worker starts a successor while this one unbinds
                listener.close()
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(path).st_ino == mine:  # not a successor's socket
                        os.unlink(path)
            break
    sys.stderr.flush()
    os._exit(0 if drawer.started is None else 1)  # a hung drawing thread is not waited for


def main() -> None:
    """Serve the folder named on the command line (:func:`.drawing.warm` starts this)."""
    serve(Path(sys.argv[1]))


if __name__ == "__main__":
    main()
