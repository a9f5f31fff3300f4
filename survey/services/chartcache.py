"""Charts, their text alternatives and printable reports, rendered once and kept on disk; and
the manifests they are drawn from, parsed once per process.

A manifest never changes, so a chart is identified by the digest of exactly what it is drawn
from (figures, labels, events); when that input changes, so does the key, and a new file is
drawn. A page that finds what it needs on disk never imports matplotlib: drawing modules are
imported only inside the render functions. For the same reason a parsed manifest is kept in
memory under its release's recorded digest and shared, read-only, by every request.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import reporting
from ..models import Release, Round

CHART_VERSION = "2"
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
TEXT = "txt"
PDF = "pdf"
PDF_MIMETYPE = "application/pdf"


# Parsed manifests kept per process (about 1-2 MB each for an organisation of 2,000 people).
MANIFESTS_KEPT = 128
_manifests: OrderedDict[tuple[int, str], Mapping[str, Any]] = OrderedDict()
_manifests_lock = threading.Lock()


def released_manifests(session: Session, program_id: int) -> list[Mapping[str, Any]]:
    """Return a programme's released manifests, oldest first, each parsed once per process.

    Only release ids and digests are read on every call; a manifest is loaded (and its JSON
    decoded) the first time its (id, digest) is seen. The digest is that of the manifest's
    canonical JSON, recorded at release and never changed, so a kept manifest is exactly the
    stored one. The returned mappings are shared between requests: never modify them.
    """
    rows = session.execute(
        select(Release.id, Release.digest)
        .join(Round, Release.round_id == Round.id)
        .where(Round.program_id == program_id)
        .order_by(Round.number)
    ).all()
    keys = [(int(rid), str(digest)) for rid, digest in rows]
    found: dict[tuple[int, str], Mapping[str, Any]] = {}
    with _manifests_lock:
        for key in keys:
            if key in _manifests:
                found[key] = _manifests[key]
    digests = dict(keys)
    missing = [rid for rid, digest in keys if (rid, digest) not in found]
    if missing:
        query = select(Release.id, Release.manifest).where(Release.id.in_(missing))
        for rid, manifest in session.execute(query):
            found[(rid, digests[rid])] = manifest
    with _manifests_lock:
        for key in keys:
            _manifests[key] = found[key]
            _manifests.move_to_end(key)
        while len(_manifests) > MANIFESTS_KEPT:
            _manifests.popitem(last=False)
    return [found[key] for key in keys]


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
    manifests: Sequence[Mapping[str, Any]],
    unit_id: int,
    theme: str,
    theme_label: str,
    unit_path: str,
    events: Sequence[reporting.Event] = (),
    reference: float | None = None,
) -> str:
    """Return the cache key of a trend: its rows, round labels, dates, events and reference."""
    measured = [m for m in manifests if reporting.asked(m, theme)]
    return _key(
        "trend",
        [
            unit_id,
            theme,
            theme_label,
            unit_path,
            reporting.trend_rows(manifests, unit_id, theme),
            [m["round"]["closed_on"] for m in measured],
            reporting.place_events([m["round"]["closed_on"] for m in measured], events),
            reference,
        ],
    )


def trend(
    directory: str,
    manifests: Sequence[Mapping[str, Any]],
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
    manifests: Sequence[Mapping[str, Any]],
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

        return charts.heatmap_chart(charts.HeatmapData(**data.chart_input()), fmt)

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
