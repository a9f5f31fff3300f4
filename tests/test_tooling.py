"""The code stays within the project's own rules: ruff's rule set and mypy --strict.

These run as tests so that the README's one test command also checks them, as CI does.
"""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv of installed tools
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff() -> None:
    result = _run("ruff", "check", "survey", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = _run("mypy", "survey")
    assert result.returncode == 0, result.stdout + result.stderr


def test_benchmarks_import() -> None:
    """Every benchmark script loads (a name it imports from another one still exists)."""
    names = sorted(
        name[:-3]
        for name in os.listdir(os.path.join(ROOT, "bench"))
        if name.endswith(".py") and name != "__init__.py"
    )
    assert "dashboard" in names and "submit" in names
    code = "import importlib, sys; [importlib.import_module('bench.' + n) for n in sys.argv[1:]]"
    result = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code, *names], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
