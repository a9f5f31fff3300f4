"""Charts rendered once per set of manifests and kept on disk.

A manifest never changes, so a chart is identified by the digest of what it was drawn from;
a page that finds its chart on disk never imports matplotlib.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

CHART_VERSION = "1"
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}


def _key(kind: str, payload: Any) -> str:
    text = json.dumps([CHART_VERSION, kind, payload], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def cached(directory: str, key: str, fmt: str, render: Any) -> bytes:
    """Return the cached bytes for ``key`` or render, store and return them."""
    path = os.path.join(directory, f"{key}.{fmt}")
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        pass
    body: bytes = render()
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(body)
    os.replace(tmp, path)  # atomic: concurrent renders of one chart agree
    return body


def trend(
    directory: str,
    manifests: Sequence[Mapping[str, Any]],
    unit_id: int,
    theme: str,
    theme_label: str,
    unit_path: str,
    fmt: str,
) -> bytes:
    """Return the trend chart of one unit and theme."""
    from ..domain import charts, reporting  # matplotlib is imported only when drawing

    rows = reporting.trend_rows(manifests, unit_id, theme)
    key = _key(
        "trend",
        [
            unit_id,
            theme,
            theme_label,
            unit_path,
            [r.__dict__ for r in rows],
            [m["round"]["closed_on"] for m in manifests],
        ],
    )

    def render() -> bytes:
        series = reporting.trend_series(manifests, unit_id, theme, theme_label, unit_path)
        return charts.trend_chart(series, fmt)

    return cached(directory, key, fmt, render)
