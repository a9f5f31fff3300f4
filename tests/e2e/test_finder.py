"""The search box before a long list of choices (static/finder.js), in a real browser: it
narrows the list, keeps each match's parent units for context, never changes what the form
sends, and leaves short lists alone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from survey import db
from survey.models import OrgUnit
from survey.services import org
from tests.conftest import Org
from tests.e2e.audit import Audit
from tests.e2e.conftest import OpenPage, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SQUADS = 30  # with the seven units of the test organisation: 37, a list worth searching


def add_squads(app: Flask, organisation: Org) -> dict[str, int]:
    """Add SQUADS units under Research; return their ids by name."""
    with db.session_scope(app) as session:
        research = session.get(OrgUnit, organisation.units["Research"])
        added = {
            unit.name: unit.id
            for unit in (org.add_unit(session, f"Squad {n:02d}", research) for n in range(SQUADS))
        }
        session.commit()
    return added


def add_list(
    page: Page, list_id: str, label: str, names: list[str], chosen: tuple[int, ...] = ()
) -> None:
    """Add a labelled list of ``names`` (values 0, 1, ...) to the page's main part, several
    choices allowed if ``chosen`` names any, and load the script again (a copy of its own)."""
    page.evaluate(
        """async ([id, text, names, chosen]) => {
            const label = document.createElement("label");
            label.htmlFor = id;
            label.textContent = text;
            const select = document.createElement("select");
            select.id = id;
            select.multiple = chosen.length > 0;
            for (const [n, name] of names.entries()) {
                select.add(new Option(name, String(n), false, chosen.includes(n)));
            }
            document.querySelector("main").append(label, select);
            await import(`/static/finder.js?${id}`);
        }""",
        [list_id, label, names, list(chosen)],
    )


def test_the_unit_filter_of_the_action_list_is_searchable(
    app: Flask, open_page: OpenPage, organisation: Org, released_round: dict[str, Any]
) -> None:
    squads = add_squads(app, organisation)
    units = len(organisation.units) + SQUADS
    audit = Audit()
    page = open_page()
    log_in(page, "hr")
    page.goto("/actions/")
    select = page.locator("#f-unit")
    # The page's two unit lists: each search box says which form it serves.
    find = page.get_by_label("Find in Unit (Filter actions)", exact=True)
    expect(page.get_by_label("Find in Unit (Record an action)", exact=True)).to_have_count(1)
    expect(page.locator("#f-program-find")).to_have_count(0)  # a short list: no search box

    find.fill("squad 1")
    expect(page.locator("#f-unit-find-count")).to_have_text(f"10 of {units} match")
    shown = select.locator("option")
    expect(shown).to_have_count(11)  # "Any" and Squad 10 to 19
    expect(shown.nth(1)).to_have_text("Lab/Research/Squad 10")
    expect(select).to_have_value("")  # a search chooses nothing: still "Any"
    audit.check(page, "actions, unit list searched")
    screenshot(page, "finder-actions")

    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    find.press("Enter")  # picks the first match and moves to the list; submits nothing
    expect(select).to_be_focused()
    expect(select).to_have_value(str(squads["Squad 10"]))

    find.fill("nothing like this")
    expect(page.locator("#f-unit-find-count")).to_have_text(f"0 of {units} match")
    expect(shown).to_have_count(2)  # "Any" and the choice already made
    find.press("Escape")
    expect(find).to_have_value("")
    expect(shown).to_have_count(units + 1)
    expect(page.locator("#f-unit-find-count")).to_have_text("")

    assert not [url for url in requests if "/actions/?" in url]
    page.get_by_role("button", name="Filter").click()  # the form sends the choice
    expect(page).to_have_url(re.compile(rf"/actions/\?.*\bunit={squads['Squad 10']}(&|$)"))
    expect(page.locator("#f-unit")).to_have_value(str(squads["Squad 10"]))
    audit.assert_clean()


def test_a_match_keeps_the_units_above_it(
    app: Flask, open_page: OpenPage, organisation: Org, released_round: dict[str, Any]
) -> None:
    """The dashboard's and reports' unit lists indent a unit under its parent ("— "). A list
    like theirs, with more units than a test release shows, added to a staff page and the
    script loaded again (a second copy, which leaves the lists already searchable alone)."""
    add_squads(app, organisation)
    page = open_page()
    log_in(page, "hr")
    page.goto("/actions/")
    names = ["Lab", "— Research", *(f"— — Squad {n:02d}" for n in range(SQUADS))]
    add_list(page, "tree", "Within", [*names, "— Ops", "— — Gamma"])
    expect(page.locator(".finder")).to_have_count(3)  # the page's two unit lists, and this one
    page.get_by_label("Find in Within").fill("SQUAD 0")
    expect(page.locator("#tree-find-count")).to_have_text(f"10 of {SQUADS + 4} match")
    shown = page.locator("#tree option")
    expect(shown).to_have_count(12)  # the organisation and Research, above the ten matches
    expect(shown.nth(0)).to_have_text("Lab")
    expect(shown.nth(1)).to_have_text("— Research")
    expect(shown.nth(2)).to_have_text("— — Squad 00")
    expect(page.locator("#tree")).to_have_value("0")  # still the organisation, as before
    page.get_by_label("Find in Within").fill("gam")
    expect(shown).to_have_count(3)  # Lab, Ops, Gamma
    expect(shown.nth(1)).to_have_text("— Ops")


def test_in_a_list_of_many_choices_a_search_keeps_and_changes_none(
    open_page: OpenPage, released_round: dict[str, Any]
) -> None:
    """A list where several choices are made (a manager's units on the accounts page): the
    choices made stay in the list and chosen while a search hides the rest, and Enter
    changes none of them."""
    page = open_page()
    log_in(page, "hr")
    page.goto("/actions/")
    add_list(page, "many", "Units they see", [f"Lab/Squad {n:02d}" for n in range(SQUADS)], (3, 25))
    find = page.get_by_label("Find in Units they see")
    find.fill("squad 1")
    chosen = page.locator("#many option:checked")
    expect(page.locator("#many option")).to_have_count(12)  # ten matches, two chosen
    expect(chosen).to_have_count(2)
    find.press("Enter")
    expect(page.locator("#many")).to_be_focused()
    assert chosen.evaluate_all("options => options.map(o => o.value)") == ["3", "25"]
    find.press("Escape")
    expect(page.locator("#many option")).to_have_count(SQUADS)
    expect(chosen).to_have_count(2)
