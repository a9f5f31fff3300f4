"""Charts, their text alternatives and printable reports, rendered once and kept on disk.

A manifest never changes, so a chart is identified by the digest of exactly what it is drawn
from (figures, labels, events); when that input changes, so does the key, and a new file is
drawn. No web worker imports matplotlib: the charts it draws (trend charts, the heatmap's
PNG, the printable PDF) are drawn by the drawing process (:func:`.drawing.apart`), which stores
them here itself; text alternatives and the SVG heatmap are written in plain Python.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..domain import reporting
from ..domain.chartinput import HeatmapData, TrendSeries
from ..domain.chartlook import describe_trend
from ..domain.heatmap_svg import heatmap_svg
from ..domain.manifest import Manifest
from . import drawing

T = TypeVar("T")
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
    # The same JSON as ``dataclasses.asdict`` (so the keys of charts on disk stay valid), one
    # level at a time: ``json`` calls back here for nested dataclasses, and nothing is copied.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {spec.name: getattr(value, spec.name) for spec in dataclasses.fields(value)}
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


def is_stored(directory: str, key: str, fmt: str) -> bool:
    """Return whether bytes for ``key`` and ``fmt`` are stored (without reading them)."""
    return os.path.exists(_path(directory, key, fmt))


def cached(directory: str, key: str, fmt: str, render: Callable[[], bytes]) -> bytes:
    """Return the cached bytes for ``key`` or render, store and return them."""
    found = peek(directory, key, fmt)
    if found is not None:
        return found
    body = render()
    store(directory, key, fmt, body)
    return body


def drawn(directory: str, key: str, fmt: str, draw: Callable[[T], bytes], subject: T) -> bytes:
    """Return the cached bytes for ``key`` or have the drawing process draw and store them.

    :raises drawing.DrawingBusy: if the drawer is busy; it still stores the file when done.
    :raises drawing.DrawingError: if the drawing fails.
    """
    found = peek(directory, key, fmt)
    if found is not None:
        return found
    return drawing.apart(draw, subject, keep=(directory, key, fmt))


def store(directory: str, key: str, fmt: str, body: bytes) -> None:
    """Write ``body`` as the cached bytes for ``key`` and ``fmt``."""
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(body)
    os.replace(tmp, _path(directory, key, fmt))  # atomic: concurrent renders of one file agree


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
    found = peek(directory, key, fmt)
    if found is not None:
        return found
    series = reporting.trend_series(
        manifests, unit_id, theme, theme_label, unit_path, events, reference
    )
    return drawn(directory, key, fmt, _trend_chart, (series, fmt))


def _trend_chart(job: tuple[TrendSeries, str]) -> bytes:
    from ..domain import charts  # in the drawing process

    return charts.trend_chart(*job)


def trend_description(
    directory: str,
    manifests: Sequence[Manifest],
    unit_id: int,
    theme: str,
    theme_label: str,
    unit_path: str,
    events: Sequence[reporting.Event] = (),
    reference: float | None = None,
    key: str | None = None,
) -> str:
    """Return the text alternative of a trend chart (``chartlook.describe_trend``), cached.

    Writing it needs no matplotlib, so the first load of a trends page imports none.

    :param key: the trend's :func:`trend_key`, if the caller has it already.
    """
    key = key or trend_key(manifests, unit_id, theme, theme_label, unit_path, events, reference)

    def render() -> bytes:
        series = reporting.trend_series(
            manifests, unit_id, theme, theme_label, unit_path, events, reference
        )
        return describe_trend(series).encode()

    return cached(directory, key, TEXT, render).decode()


def heatmap_key(data: reporting.Heatmap, fmt: str = "png") -> str:
    """Return the cache key of a heatmap: exactly what the chart is drawn from, and by what."""
    return _key("heatmap" if fmt == "png" else "heatmap svg", data.chart_input())


def heatmap(directory: str, data: reporting.Heatmap, fmt: str) -> bytes:
    """Return the heatmap of one round as PNG (matplotlib, in the drawing process) or SVG.

    The SVG is the chart the heatmap page shows: drawing it needs no matplotlib, so the first
    view of a round's heatmap costs milliseconds in a worker that has never drawn a chart.
    """

    key = heatmap_key(data, fmt)
    if fmt == "svg":
        return cached(directory, key, fmt, lambda: heatmap_svg(data.chart_input()))
    return drawn(directory, key, fmt, _heatmap_png, data.chart_input())


def _heatmap_png(data: HeatmapData) -> bytes:
    from ..domain import charts

    return charts.heatmap_chart(data, "png")


def report_key(report: reporting.Report) -> str:
    """Return the cache key of a printable report: every figure, sentence and action in it."""
    return _key("report", report)


def report_pdf(directory: str, report: reporting.Report) -> bytes:
    """Return the printable PDF of one round, drawn by the drawing process."""
    return drawn(directory, report_key(report), PDF, _report_pdf, report)


def _report_pdf(report: reporting.Report) -> bytes:
    from ..domain import report_pdf as pdf

    return pdf.render_pdf(report)
