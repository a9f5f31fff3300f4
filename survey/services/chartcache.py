"""Charts, their text alternatives and printable reports, rendered once and kept on disk.

A manifest never changes, so a chart is identified by the digest of exactly what it is drawn
from (figures, labels, events); when that input changes, so does the key, and a new file is
drawn. A page that finds what it needs on disk never imports matplotlib: drawing modules are
imported only inside the render functions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from ..domain import reporting
from ..domain.manifest import Manifest

CHART_VERSION = "3"  # bump when drawing changes, so old files are not served
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
TEXT = "txt"
PDF = "pdf"
PDF_MIMETYPE = "application/pdf"


def _key(kind: str, payload: Any) -> str:
    text = json.dumps(
        [CHART_VERSION, kind, payload], sort_keys=True, default=_plain, ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def _path(directory: str, key: str, fmt: str) -> str:
    return os.path.join(directory, f"{key}.{fmt}")


def peek(directory: str, key: str, fmt: str) -> bytes | None:
    """Return the cached bytes for ``key`` and ``fmt``, or None if nothing is stored yet."""
    try:
        with open(_path(directory, key, fmt), "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def cached(directory: str, key: str, fmt: str, render: Callable[[], bytes]) -> bytes:
    """Return the cached bytes for ``key`` or render, store and return them."""
    found = peek(directory, key, fmt)
    if found is not None:
        return found
    body = render()
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(body)
    os.replace(tmp, _path(directory, key, fmt))  # atomic: concurrent renders of one file agree
    return body


def trend_key(
    manifests: Sequence[Manifest],
    unit_id: int,
    theme: str,
    theme_label: str,
    unit_path: str,
    events: Sequence[reporting.Event] = (),
    reference: float | None = None,
) -> str:
    """Return the cache key of a trend: its rows, round labels, dates, events and reference."""
    return _key(
        "trend",
        [
            unit_id,
            theme,
            theme_label,
            unit_path,
            reporting.trend_rows(manifests, unit_id, theme),
            [m.round.closed_on for m in manifests],
            reporting.place_events([m.round.closed_on for m in manifests], events),
            reference,
        ],
    )


def trend(
    directory: str,
    manifests: Sequence[Manifest],
    unit_id: int,
    theme: str,
    theme_label: str,
    unit_path: str,
    fmt: str,
    events: Sequence[reporting.Event] = (),
    reference: float | None = None,
) -> bytes:
    """Return the trend chart of one unit and theme, with events and an optional reference."""
    key = trend_key(manifests, unit_id, theme, theme_label, unit_path, events, reference)

    def render() -> bytes:
        from ..domain import charts  # matplotlib is imported only when drawing

        series = reporting.trend_series(
            manifests, unit_id, theme, theme_label, unit_path, events, reference
        )
        return charts.trend_chart(series, fmt)

    return cached(directory, key, fmt, render)


def trend_description(
    directory: str,
    manifests: Sequence[Manifest],
    unit_id: int,
    theme: str,
    theme_label: str,
    unit_path: str,
    events: Sequence[reporting.Event] = (),
    reference: float | None = None,
) -> str:
    """Return the text alternative of a trend chart (``charts.describe_trend``), cached."""
    key = trend_key(manifests, unit_id, theme, theme_label, unit_path, events, reference)

    def render() -> bytes:
        from ..domain import charts

        series = reporting.trend_series(
            manifests, unit_id, theme, theme_label, unit_path, events, reference
        )
        return charts.describe_trend(series).encode()

    return cached(directory, key, TEXT, render).decode()


def heatmap_key(data: reporting.Heatmap) -> str:
    """Return the cache key of a heatmap: exactly what the chart is drawn from."""
    return _key("heatmap", data.chart_input())


def heatmap(directory: str, data: reporting.Heatmap, fmt: str) -> bytes:
    """Return the heatmap of one round as PNG or SVG."""

    def render() -> bytes:
        from ..domain import charts

        return charts.heatmap_chart(data.chart_input(), fmt)

    return cached(directory, heatmap_key(data), fmt, render)


def report_key(report: reporting.Report) -> str:
    """Return the cache key of a printable report: every figure, sentence and action in it."""
    return _key("report", report)


def report_pdf(directory: str, report: reporting.Report) -> bytes:
    """Return the printable PDF of one round."""

    def render() -> bytes:
        from ..domain import report_pdf as pdf

        return pdf.render_pdf(report)

    return cached(directory, report_key(report), PDF, render)
