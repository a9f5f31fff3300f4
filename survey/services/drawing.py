"""Drawing apart from the web workers: they send what to draw and get bytes back.

What it decides: no web worker imports matplotlib. Every chart matplotlib draws (trend charts,
the heatmap's PNG, the printable PDF) is drawn by one long-lived drawing process per
installation and user (:mod:`.drawer`), which imports matplotlib once and is shared by every
worker, the dev server and the tests. It is started by the first request that needs it and
stops by itself after :data:`IDLE_S` without work, so its memory is held only while charts
are being drawn; one that died is started again by the next request.

A request never waits longer than :data:`WAIT_S` (well inside gunicorn's ``timeout``): a
drawer that is busy (:data:`QUEUE_MAX` drawings waiting) or slow raises :class:`DrawingBusy`,
which the web layer answers with 503 and ``Retry-After``. A drawing given a place on disk
(``keep``) is stored there by the drawer even after the request gave up, so the retry finds it.

The socket lives in a folder only this user can enter (checked, never assumed), and the drawer
also checks its peer's user id: only this user's processes, which run this same code, can send
it a job, so the pickles exchanged never cross a trust boundary. The folder is named after the
interpreter and the code (paths, sizes and times of its files), so a worker never talks to a
drawer left running by older code.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
WAIT_S = 20.0  # the longest a request waits for a drawing (gunicorn's timeout is 30 s)
START_S = 10.0  # the longest a new drawer may take to listen (counted inside WAIT_S)
QUEUE_MAX = 16  # drawings waiting in the drawer; one more is refused at once
IDLE_S = 300.0  # the drawer exits after this long without a drawing
RETIRE_RSS_MB = 300  # a drawer that holds more after a drawing stops once its queue is empty
DRAW_LIMIT_S = 300.0  # a single drawing that takes longer than this has failed: the drawer exits
ERROR_TAIL_CHARS = 2000  # of a failed drawing's traceback, in the error raised here
SOCKET_NAME = "socket"
LOCK_NAME = "lock"
PID_NAME = "pid"  # the listening drawer's process id, for an operator (and the tests)
_HEADER = struct.Struct("!Q")
_PACKAGE = Path(__file__).resolve().parents[1]  # survey/
# The folder holding the ``survey`` package, so the drawer imports this same code.
_CODE_ROOT = str(_PACKAGE.parent)


class DrawingError(RuntimeError):
    """Raised when a drawing fails, or the drawing process cannot be reached."""


class DrawingBusy(DrawingError):
    """Raised when the drawing process is busy or slow: ask again in a few seconds."""


def apart(
    draw: Callable[[T], bytes], subject: T, keep: tuple[str, str, str] | None = None
) -> bytes:
    """Return ``draw(subject)``, computed by the drawing process.

    ``draw`` must be a module-level function and ``subject`` picklable (frozen dataclasses).

    :param keep: ``(directory, key, fmt)`` of :func:`.chartcache.store`: the drawer returns
        the file stored there if there is one, and stores what it draws there.
    :raises DrawingBusy: if the drawer is busy or does not answer within :data:`WAIT_S`.
    :raises DrawingError: if the drawing fails (the end of its traceback is in the message).
    """
    job = pickle.dumps((draw.__module__, draw.__qualname__, subject, keep))
    deadline = time.monotonic() + WAIT_S
    for attempt in (1, 2):
        try:
            with _connected(deadline) as conn:
                send(conn, job)
                status, value = receive(conn)
            break
        except (ConnectionError, EOFError, FileNotFoundError) as exc:
            # A drawer that stopped (idle, recycled or killed) between connect and answer, or
            # removed its socket just as it was started again: once more with a new one; a
            # drawing that kills every drawer fails.
            if attempt == 2:
                raise DrawingError(f"the drawing process stopped: {exc!r}") from exc
        except TimeoutError as exc:
            raise DrawingBusy(f"no drawing within {WAIT_S:.0f} s") from exc
        except BlockingIOError as exc:  # its backlog is full: busier than its queue
            raise DrawingBusy(f"{QUEUE_MAX} drawings are waiting already") from exc
    if status == "ok":
        return bytes(value)
    if status == "busy":
        raise DrawingBusy(f"{QUEUE_MAX} drawings are waiting already")
    raise DrawingError(f"drawing failed:\n{str(value)[-ERROR_TAIL_CHARS:]}")


def warm() -> None:
    """Start the drawing process if none is running, without waiting for it.

    A page whose charts are not on disk yet calls this, so the drawer's start-up overlaps
    the browser reading the page instead of delaying its first chart.
    """
    with contextlib.suppress(OSError, DrawingError):
        if not listening():
            _spawn()


def running_pid() -> int | None:
    """Return the process id of this installation's drawing process, if one is running."""
    try:
        pid = int((folder() / PID_NAME).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError, DrawingError):
        return None
    return pid


def stop(wait_s: float = 10.0) -> None:
    """Stop this installation's drawing process, if one runs (it is started again when needed).

    For the test session's end and the benchmark's cold phases: a drawer started from them
    would otherwise hold their output open until it retires.
    """
    pid = running_pid()
    if pid is None:
        return
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while running_pid() == pid and time.monotonic() < deadline:
        time.sleep(0.05)


def send(conn: socket.socket, body: bytes) -> None:
    """Send one frame: its length, then ``body``."""
    conn.sendall(_HEADER.pack(len(body)) + body)


def receive(conn: socket.socket) -> Any:
    """Receive one frame sent by :func:`send` and unpickle it (peers are this user's, above)."""
    (size,) = _HEADER.unpack(_read(conn, _HEADER.size))
    return pickle.loads(_read(conn, size))  # noqa: S301 - see the module docstring


def _read(conn: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = conn.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise EOFError("the peer closed the connection")
        chunks += chunk
    return bytes(chunks)


@contextlib.contextmanager
def _connected(deadline: float) -> Iterator[socket.socket]:
    """Yield a connection to the drawer, starting one if none listens; time out at ``deadline``."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            conn.connect(socket_path())
        except (FileNotFoundError, ConnectionRefusedError):
            _start(deadline)
            conn.settimeout(max(deadline - time.monotonic(), 0.01))
            conn.connect(socket_path())
        yield conn
    finally:
        conn.close()


def _start(deadline: float) -> None:
    """Start a drawer and wait until it listens.

    Several workers may start one at once: each new drawer takes the start lock and exits at
    once if another drawer listens already (:func:`.drawer.serve`).
    """
    _spawn()
    limit = min(deadline, time.monotonic() + START_S)
    while not listening():
        if time.monotonic() > limit:
            raise TimeoutError("the drawing process did not start in time")
        time.sleep(0.02)


def listening(where: Path | None = None) -> bool:
    """Return whether a drawer listens in ``where`` (default :func:`folder`), even a busy one."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str((where or folder()) / SOCKET_NAME))
        except (FileNotFoundError, ConnectionRefusedError):
            return False
        except (TimeoutError, BlockingIOError):
            return True  # its backlog is full: it is alive
        return True


# Fork before importing anything, so the starter exits (and is reaped) within milliseconds
# and the drawer it leaves behind belongs to no worker.
_DETACHED = (
    "import os, runpy; os.fork() and os._exit(0); "
    f"runpy.run_module({__package__ + '.drawer'!r}, run_name='__main__')"
)


def _spawn() -> None:
    """Start ``survey.services.drawer FOLDER`` detached: the starter forks it and exits.

    :raises DrawingBusy: if no process can be started just now (out of processes or files,
        or a starter that does not exit in time).
    """
    paths = [_CODE_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    try:
        starter = subprocess.Popen(  # noqa: S603 - our own interpreter running our own module
            [sys.executable, "-c", _DETACHED, str(folder())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        starter.wait(timeout=START_S)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DrawingBusy(f"the drawing process could not be started: {exc!r}") from exc


@contextlib.contextmanager
def start_lock(where: Path | None = None) -> Iterator[None]:
    """Hold the start lock of ``where`` (default :func:`folder`): one drawer binds at a time."""
    with open((where or folder()) / LOCK_NAME, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def socket_path() -> str:
    """Return the path of the drawer's socket."""
    return str(folder() / SOCKET_NAME)


def folder() -> Path:
    """Return the drawer's folder for this interpreter and code, private to this user.

    Made again if it is gone (a cleaner of the temporary directory may remove it), so a
    drawer can always be started.
    """
    return private(_location())


@functools.cache
def _location() -> Path:
    # ``python`` and ``python3`` of one environment are one interpreter: one drawer.
    interpreter = f"{sys.prefix}\0{os.path.realpath(sys.executable)}"
    code = hashlib.sha256(f"{interpreter}\0{_code_fingerprint()}".encode()).hexdigest()
    # Short, so the socket's path fits AF_UNIX's 108 bytes wherever the instance lives.
    return Path(tempfile.gettempdir()) / f"candor-drawer-{os.getuid()}-{code[:16]}"


def private(path: Path) -> Path:
    """Make ``path`` a folder only this user can enter, or refuse one that is not.

    :raises DrawingError: if it is a link, or another user's, or open to others.
    """
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if path.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise DrawingError(f"{path} is not a folder only this user can use: not drawing")
    return path


def _code_fingerprint() -> str:
    """Return where the code is and the size and time of each of its files."""
    parts = [str(_PACKAGE)]
    for source in sorted(_PACKAGE.rglob("*.py")):
        info = source.stat()
        parts.append(f"{source.relative_to(_PACKAGE)}:{info.st_size}:{info.st_mtime_ns}")
    return "\n".join(parts)
