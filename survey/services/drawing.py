"""Drawing in a fresh process: the worker sends what to draw and gets bytes back.

What it decides: matplotlib's memory for a large drawing (the printable PDF, a heatmap PNG)
is returned to the system when the drawing is done, instead of staying with the web worker
for the rest of its life. The child is a new interpreter (``python -m`` this module), not a
fork, so it copies none of the worker's threads, locks or database connections; it reads one
pickled job from stdin and writes the bytes to stdout. Both ends are this code, in the same
installation: the pickle never crosses a trust boundary.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
DRAW_TIMEOUT_S = 300  # a drawing that takes longer than this has failed
ERROR_TAIL_CHARS = 2000  # of the child's stderr, in the error raised here
# The folder holding the ``survey`` package, so the child imports this same code.
_CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class DrawingError(RuntimeError):
    """Raised when the drawing process fails or does not finish in time."""


def apart(draw: Callable[[T], bytes], subject: T) -> bytes:
    """Return ``draw(subject)``, computed in a fresh Python process that then exits.

    ``draw`` must be a module-level function and ``subject`` picklable (frozen dataclasses).
    Starting the process (and matplotlib in it) costs about a second, paid once per drawing:
    the bytes are kept on disk.

    :raises DrawingError: if the drawing fails (its traceback is in the message).
    """
    job = pickle.dumps((draw.__module__, draw.__qualname__, subject))
    paths = [_CODE_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter running our own module
            [sys.executable, "-m", __name__],
            input=job,
            capture_output=True,
            env=env,
            timeout=DRAW_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DrawingError(f"drawing took longer than {DRAW_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-ERROR_TAIL_CHARS:]
        raise DrawingError(f"drawing failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def _main() -> None:
    """Read one job from stdin, draw it, write the bytes to stdout."""
    module, name, subject = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - see above
    draw = getattr(importlib.import_module(module), name)
    sys.stdout.buffer.write(draw(subject))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    _main()
