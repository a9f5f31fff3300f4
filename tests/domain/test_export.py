"""Tests for the CSV export: exact header, hidden and coded rows, formula neutralisation,
round trip."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from survey.domain import manifest as schema
from survey.domain.disclosure import HIDDEN_TEXT, UNIFORM_TEXT
from survey.domain.export import (
    CSV_COLUMNS,
    PARTICIPATION_LABEL,
    export_filename,
    links_csv,
    manifest_rows,
    neutralise,
    to_csv,
)

HEADER = (
    "round,closed_on,unit_path,tenure,theme,n,mean,favourable_pct,ci_low,ci_high,"
    "participation_pct,status"
)


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
    row: dict[str, Any] = {
        "id": hash(path) % 1000,
        "path": path,
        "name": path.split(" / ")[-1],
        "parent": None,
        "depth": path.count(" / "),
        "eligible": 24,
        "shown": shown,
        "reason": "" if shown else HIDDEN_TEXT,
        "themes": themes or {},
    }
    if shown:
        row["n"] = max([c["n"] for c in (themes or {}).values()] + [5])
        row["participation_pct"] = round(100 * row["n"] / 24, 1)
    return row


def manifest(
    units: list[dict[str, Any]],
    label: str = "R1",
    closed_on: str = "2026-11-30",
    attribute_cells: list[dict[str, Any]] | None = None,
) -> schema.Manifest:
    number = int(label.lstrip("=R") or 1)
    return schema.parse(
        {
            "version": schema.MANIFEST_VERSION,
            "round": {
                "id": number,
                "number": number,
                "label": label,
                "program": "Pulse",
                "opens_on": "2026-11-01",
                "closed_on": closed_on,
            },
            "k": 5,
            "comment_k": 10,
            "themes": [{"key": "morale", "label": "Morale"}, {"key": "enps", "label": "eNPS"}],
            "participation": {"org_pct_rounded": 50},
            "units": units,
            "attributes": {
                "name": "tenure",
                "bands": ["1-3y", "3y+", "<1y"],
                "cells": attribute_cells or [],
            },
            "comments": [],
            "audit": {
                "ok": True,
                "mode": "exact",
                "published": [],
                "cells": 1,
                "atoms": 1,
                "sets_checked": 0,
                "exhaustive": True,
            },
        }
    )


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def theme_rows(text: str) -> list[dict[str, str]]:
    """Return the CSV's rows of theme figures (not participation)."""
    return [r for r in parse(text) if r["theme"] != PARTICIPATION_LABEL]


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
        ("Lab", "Participation", "shown"),
        ("Lab", "Morale", "shown"),
        ("Lab", "eNPS", "shown"),
        ("Lab / Ops", "Participation", HIDDEN_TEXT),
        ("Lab / Ops", "Morale", HIDDEN_TEXT),
        ("Lab / Ops", "eNPS", HIDDEN_TEXT),
        ("Lab / Research", "Participation", "shown"),
        ("Lab / Research", "Morale", "shown"),
        ("Lab / Research", "eNPS", HIDDEN_TEXT),
    ]
    assert rows[1] == {
        "round": "R1",
        "closed_on": "2026-11-30",
        "unit_path": "Lab",
        "tenure": "",
        "theme": "Morale",
        "n": "12",
        "mean": "62.5",
        "favourable_pct": "58.3",
        "ci_low": "57.5",
        "ci_high": "67.5",
        "participation_pct": "",
        "status": "shown",
    }
    assert rows[0]["n"] == "12" and rows[0]["participation_pct"] == "50.0"
    assert all(rows[3][c] == "" for c in ("n", "mean", "participation_pct"))


@pytest.mark.parametrize(
    ("unit_index", "theme"),
    [(1, "Morale"), (1, "eNPS"), (2, "eNPS"), (1, "Participation")],
)
def test_suppressed_rows_have_no_numbers(unit_index: int, theme: str) -> None:
    rows = parse(to_csv([SAMPLE]))
    path = SAMPLE.units[unit_index].path
    (row,) = [r for r in rows if r["unit_path"] == path and r["theme"] == theme]
    assert row["status"] == HIDDEN_TEXT
    for column in ("n", "mean", "favourable_pct", "ci_low", "ci_high", "participation_pct"):
        assert row[column] == ""


def test_hidden_unit_ignores_leftover_numbers() -> None:
    # Even if a hidden unit carried a cell by mistake, the export must not print it.
    leaky = manifest([unit("Lab", False, {"morale": cell(3, 40.0, 33.3)})])
    (_, row, _) = parse(to_csv([leaky]))
    assert row["status"] == HIDDEN_TEXT
    assert row["n"] == row["mean"] == row["favourable_pct"] == ""


def test_coded_favourable_text_is_used() -> None:
    rows = parse(to_csv([SAMPLE]))
    (row,) = [r for r in rows if r["unit_path"] == "Lab / Research" and r["theme"] == "Morale"]
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
    rows = theme_rows(to_csv([coded]))
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
    rows = theme_rows(to_csv([first, second]))
    assert [(r["round"], r["closed_on"], r["theme"]) for r in rows] == [
        ("R1", "2026-01-31", "Morale"),
        ("R1", "2026-01-31", "eNPS"),
        ("R2", "2026-03-31", "Morale"),
        ("R2", "2026-03-31", "eNPS"),
    ]


def test_manifest_rows_count() -> None:
    rows = list(manifest_rows(SAMPLE))
    assert len(rows) == len(SAMPLE.units) * (len(SAMPLE.themes) + 1)  # + participation
    assert all(len(r) == len(CSV_COLUMNS) for r in rows)


def test_quotes_and_commas_survive() -> None:
    path = 'Lab / R&D, "Blue" team'
    rows = parse(to_csv([manifest([unit(path, False)])]))
    assert rows[0]["unit_path"] == path


def test_negative_enps_is_a_number_not_text() -> None:
    # A negative eNPS mean starts with "-", but numbers are formatted, never neutralised.
    m = manifest([unit("Lab", True, {"enps": cell(8, -25.0, 12.5)})])
    (_, _, row) = parse(to_csv([m]))
    assert row["mean"] == "-25.0"
    assert row["ci_low"] == "-30.0"


def test_links_csv_gives_the_fragment_link_the_code_and_the_entry_page() -> None:
    entry = "https://pulse.example.org/s/7"
    row = ("ada@example.org", "=HYPERLINK()", f"{entry}#3.AbC", "3.AbC", entry)
    lines = links_csv([row]).splitlines()
    assert lines[0] == "email,name,link,code,entry_url"
    assert lines[1] == f"ada@example.org,'=HYPERLINK(),{entry}#3.AbC,3.AbC,{entry}"


def test_published_tenure_rows_in_natural_band_order() -> None:
    def band(name: str, shown: bool) -> dict[str, Any]:
        found: dict[str, Any] = {
            "unit": 1,
            "path": "Lab",
            "band": name,
            "shown": shown,
            "reason": "" if shown else HIDDEN_TEXT,
            "themes": {"morale": cell(6, 60.0, None, "about 60 %")} if shown else {},
        }
        if shown:
            found["n"] = 6
        return found

    cells = [band("1-3y", True), band("3y+", True), band("<1y", True), band("unstated", False)]
    made = manifest([unit("Lab", True, {"morale": cell(18, 60.0, 50.0)})], attribute_cells=cells)
    tenure = [r for r in parse(to_csv([made])) if r["tenure"]]
    assert [(r["tenure"], r["theme"]) for r in tenure] == [
        ("<1y", "Morale"),
        ("<1y", "eNPS"),
        ("1-3y", "Morale"),
        ("1-3y", "eNPS"),
        ("3y+", "Morale"),
        ("3y+", "eNPS"),
    ]  # the hidden "unstated" band is not a row; eNPS was not published for any band
    assert tenure[0]["mean"] == "60.0" and tenure[1]["status"] == HIDDEN_TEXT


@pytest.mark.parametrize(
    ("program", "numbers", "name"),
    [
        ("Pulse 2026", (1, 14), "pulse-2026-R1-R14-results.csv"),
        ("Pulse", (3, 3), "pulse-R3-results.csv"),
        ("Équipe « santé »", (2, 5), "equipe-sante-R2-R5-results.csv"),
        ("人事", (1, 2), "programme-7-R1-R2-results.csv"),
        ('x"; y=\\z', (1, 1), "x-y-z-R1-results.csv"),
    ],
)
def test_file_name_names_the_programme_and_rounds(
    program: str, numbers: tuple[int, int], name: str
) -> None:
    rounds = [manifest([unit("Lab", False)], label=f"R{n}") for n in sorted(set(numbers))]
    assert export_filename(program, rounds, "programme-7") == name
    assert export_filename(program, [], "programme-7").endswith("-results.csv")
