"""Charts drawn in the tests: heatmaps over given values, hostile labels, reading SVG back."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from survey.domain.charts import HeatmapData

TRICKY_LABELS = ("$x$", "<b>markup</b>", "a_b^c", "שלום עולם", "مرحبا بالعالم")


def heatmap(values: tuple[tuple[float | None, ...], ...], **kwargs: object) -> HeatmapData:
    """Return a heatmap over ``values`` with generated row and column labels."""
    options: dict[str, object] = {
        "title": "Themes by unit",
        "rows": tuple(f"Unit {i}" for i in range(len(values))),
        "columns": tuple(f"Theme {j}" for j in range(len(values[0]) if values else 0)),
        "values": values,
        "centre": 60.0,
        "span": 20.0,
    }
    options.update(kwargs)
    return HeatmapData(**options)  # type: ignore[arg-type]


def svg_root(data: bytes) -> ET.Element:
    """Assert ``data`` is well-formed SVG and return its root element."""
    root = ET.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def svg_texts(data: bytes) -> list[str]:
    """Return the content of every <text> element, one entry per drawn line."""
    root = svg_root(data)
    return ["".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text")]


HEATMAP_CASES = {
    "full": heatmap(((55.0, 60.0, 72.0), (41.0, 66.0, 80.0))),
    "hidden cells": heatmap(((55.0, None, 72.0), (None, None, 80.0))),
    "all hidden": heatmap(((None, None), (None, None))),
    "one cell": heatmap(((61.0,),)),
    "no rows": heatmap((), columns=("Theme A", "Theme B")),
    "no columns": heatmap(((), ()), rows=("Unit A", "Unit B"), columns=()),
    "nothing": heatmap(()),
    "beyond the span": heatmap(((0.0, 100.0, 60.0),)),
    "five-point scale": heatmap(((3.1, 4.2), (None, 2.4)), centre=3.4, span=1.0),
    "many rows": heatmap(tuple((50.0 + i, None if i % 7 == 0 else 60.0) for i in range(30))),
    "tricky labels": heatmap(
        tuple((float(i * 20),) for i in range(len(TRICKY_LABELS))),
        title=TRICKY_LABELS[0],
        rows=TRICKY_LABELS,
        columns=(TRICKY_LABELS[2],),
    ),
    "very long labels": heatmap(
        ((50.0, 60.0),), title="T" * 300, rows=("U" * 200,), columns=("C" * 200, "Theme")
    ),
}
