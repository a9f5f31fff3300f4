"""Tests for the CSV export: exact header, hidden and coded rows, formula neutralisation,
round trip."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from survey.domain.disclosure import HIDDEN_TEXT, UNIFORM_TEXT
from survey.domain.export import CSV_COLUMNS, links_csv, manifest_rows, neutralise, to_csv

HEADER = "round,closed_on,unit_path,theme,n,mean,favourable_pct,ci_low,ci_high,status"


def cell(n: int, mean: float, fav: float | None, text: str = "") -> dict[str, Any]:
    return {
        "n": n,
        "mean": mean,
        "favourable_pct": fav,
        "favourable_text": text or (f"{fav:.0f} %" if fav is not None else ""),
        "sd": 10.0,
        "ci_low": mean - 5,
        "ci_high": mean + 5,
    }


def unit(path: str, shown: bool, themes: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": hash(path) % 1000, "path": path, "shown": shown, "themes": themes or {}}


def manifest(
    units: list[dict[str, Any]], label: str = "R1", closed_on: str = "2026-11-30"
) -> dict[str, Any]:
    return {
        "round": {"label": label, "closed_on": closed_on},
        "themes": [{"key": "morale", "label": "Morale"}, {"key": "enps", "label": "eNPS"}],
        "units": units,
    }


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


SAMPLE = manifest(
    [
        unit("Lab", True, {"morale": cell(12, 62.5, 58.3), "enps": cell(12, 16.7, 41.7)}),
        unit("Lab / Ops", False),
        unit("Lab / Research", True, {"morale": cell(6, 70.0, None, "≥ 90 %")}),
    ]
)


def test_header_is_exact() -> None:
    text = to_csv([])
    assert text == HEADER + "\r\n"
    assert ",".join(CSV_COLUMNS) == HEADER
    assert to_csv([SAMPLE]).split("\r\n", 1)[0] == HEADER


def test_rows_parse_back() -> None:
    rows = parse(to_csv([SAMPLE]))
    assert [(r["unit_path"], r["theme"], r["status"]) for r in rows] == [
        ("Lab", "morale", "shown"),
        ("Lab", "enps", "shown"),
        ("Lab / Ops", "morale", HIDDEN_TEXT),
        ("Lab / Ops", "enps", HIDDEN_TEXT),
        ("Lab / Research", "morale", "shown"),
        ("Lab / Research", "enps", HIDDEN_TEXT),
    ]
    first = rows[0]
    assert first == {
        "round": "R1",
        "closed_on": "2026-11-30",
        "unit_path": "Lab",
        "theme": "morale",
        "n": "12",
        "mean": "62.5",
        "favourable_pct": "58.3",
        "ci_low": "57.5",
        "ci_high": "67.5",
        "status": "shown",
    }


@pytest.mark.parametrize(
    ("unit_index", "theme"),
    [(1, "morale"), (1, "enps"), (2, "enps")],
)
def test_suppressed_rows_have_no_numbers(unit_index: int, theme: str) -> None:
    rows = parse(to_csv([SAMPLE]))
    path = SAMPLE["units"][unit_index]["path"]
    (row,) = [r for r in rows if r["unit_path"] == path and r["theme"] == theme]
    assert row["status"] == HIDDEN_TEXT
    for column in ("n", "mean", "favourable_pct", "ci_low", "ci_high"):
        assert row[column] == ""


def test_hidden_unit_ignores_leftover_numbers() -> None:
    # Even if a hidden unit carried a cell by mistake, the export must not print it.
    leaky = manifest([unit("Lab", False, {"morale": cell(3, 40.0, 33.3)})])
    (row, _) = parse(to_csv([leaky]))
    assert row["status"] == HIDDEN_TEXT
    assert row["n"] == row["mean"] == row["favourable_pct"] == ""


def test_coded_favourable_text_is_used() -> None:
    rows = parse(to_csv([SAMPLE]))
    (row,) = [r for r in rows if r["unit_path"] == "Lab / Research" and r["theme"] == "morale"]
    assert row["favourable_pct"] == "≥ 90 %"
    assert row["mean"] == "70.0"


def uniform(n: int, mean_text: str, favourable_text: str) -> dict[str, Any]:
    return {
        "n": n,
        "mean": None,
        "mean_text": mean_text,
        "coded": UNIFORM_TEXT,
        "favourable_pct": None,
        "favourable_text": favourable_text,
        "sd": None,
        "ci_low": None,
        "ci_high": None,
    }


def test_uniform_cells_export_their_coded_index_and_no_interval() -> None:
    coded = manifest(
        [
            unit(
                "Lab",
                True,
                {
                    "morale": uniform(5, "≥ 90", "≥ 90 %"),
                    "enps": uniform(5, "≤ \u221280", "≤ 10 %"),
                },
            )
        ]
    )
    rows = parse(to_csv([coded]))
    assert [(r["mean"], r["favourable_pct"], r["ci_low"], r["ci_high"]) for r in rows] == [
        ("≥ 90", "≥ 90 %", "", ""),
        ("≤ \u221280", "≤ 10 %", "", ""),
    ]
    assert {r["status"] for r in rows} == {UNIFORM_TEXT}
    assert all(r["n"] == "5" for r in rows)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\n=1", "'\n=1"),
        ("Lab / =Ops", "Lab / =Ops"),
        ("Lab", "Lab"),
        ("", ""),
    ],
)
def test_neutralise(raw: str, safe: str) -> None:
    assert neutralise(raw) == safe


@pytest.mark.parametrize("leader", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_leading_paths_are_neutralised(leader: str) -> None:
    path = f"{leader}cmd|' /C calc'!A0"
    rows = parse(to_csv([manifest([unit(path, True, {"morale": cell(5, 50.0, 40.0)})])]))
    assert {r["unit_path"] for r in rows} == {"'" + path}
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_formula_leading_round_label_is_neutralised() -> None:
    rows = parse(to_csv([manifest([unit("Lab", False)], label="=R1")]))
    assert {r["round"] for r in rows} == {"'=R1"}


def test_several_manifests_in_order() -> None:
    first = manifest([unit("Lab", True, {"morale": cell(5, 50.0, 40.0)})], "R1", "2026-01-31")
    second = manifest([unit("Lab", True, {"morale": cell(7, 55.0, 42.9)})], "R2", "2026-03-31")
    rows = parse(to_csv([first, second]))
    assert [(r["round"], r["closed_on"], r["theme"]) for r in rows] == [
        ("R1", "2026-01-31", "morale"),
        ("R1", "2026-01-31", "enps"),
        ("R2", "2026-03-31", "morale"),
        ("R2", "2026-03-31", "enps"),
    ]


def test_manifest_rows_count() -> None:
    rows = list(manifest_rows(SAMPLE))
    assert len(rows) == len(SAMPLE["units"]) * len(SAMPLE["themes"])
    assert all(len(r) == len(CSV_COLUMNS) for r in rows)


def test_quotes_and_commas_survive() -> None:
    path = 'Lab / R&D, "Blue" team'
    rows = parse(to_csv([manifest([unit(path, False)])]))
    assert rows[0]["unit_path"] == path


def test_negative_enps_is_a_number_not_text() -> None:
    # A negative eNPS mean starts with "-", but numbers are formatted, never neutralised.
    m = manifest([unit("Lab", True, {"enps": cell(8, -25.0, 12.5)})])
    (_, row) = parse(to_csv([m]))
    assert row["mean"] == "-25.0"
    assert row["ci_low"] == "-30.0"


def test_links_csv_gives_the_fragment_link_the_code_and_the_entry_page() -> None:
    entry = "https://pulse.example.org/s/7"
    row = ("ada@example.org", "=HYPERLINK()", f"{entry}#3.AbC", "3.AbC", entry)
    lines = links_csv([row]).splitlines()
    assert lines[0] == "email,name,link,code,entry_url"
    assert lines[1] == f"ada@example.org,'=HYPERLINK(),{entry}#3.AbC,3.AbC,{entry}"
