"""HR after a release: log in, read the dashboard's charts and tables, switch unit, download
the CSV, log out.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from survey.domain.disclosure import HIDDEN_TEXT
from tests.conftest import STAFF, OpenRound
from tests.e2e.conftest import OpenPage, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CSV_HEADER = (
    "round,closed_on,unit_path,tenure,theme,n,mean,favourable_pct,ci_low,ci_high,"
    "participation_pct,status"
)


def check_panels(page: Page, unit_id: int) -> int:
    """Check every chart of the dashboard loads and has its table beside it; return the count."""
    panels = page.locator("section.panel:has(figure)")
    count = panels.count()
    assert count > 0
    for i in range(count):
        panel = panels.nth(i)
        image = panel.locator("figure img")
        assert f"/{unit_id}/" in (image.get_attribute("src") or "")
        image.scroll_into_view_if_needed()  # the charts load lazily
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0, image.get_attribute("src")
        # The same figures as a table, next to the chart in the same row.
        table = panel.locator(".chart-row > figure + table.data")
        expect(table).to_have_count(1)
        chart, beside = image.bounding_box(), table.bounding_box()
        assert chart and beside and beside["x"] >= chart["x"] + chart["width"]
        assert beside["y"] < chart["y"] + chart["height"], "the table wrapped below the chart"
        title = panel.get_by_role("heading", level=2).inner_text()
        expect(table.locator("caption")).to_have_text(f"{title} by round")
        expect(table.locator("tbody tr")).to_have_count(1)
    return count


def test_hr_dashboard_and_csv(
    open_page: OpenPage, open_round: OpenRound, released_round: dict[str, Any]
) -> None:
    units = open_round.units
    page = open_page()
    log_in(page, "hr")

    page.goto("/dashboard/comments")
    expect(page.locator("ul.comments li").first).to_contain_text("[email]")  # masked
    page.goto("/dashboard/trends")
    expect(page.get_by_role("heading", level=1)).to_have_text("Trends: Lab")
    themes = check_panels(page, units["Lab"])
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "dashboard")

    # A team below k is never offered; a shown team is.
    options = page.locator("#unit option")
    assert "Small" not in options.all_inner_texts()
    page.get_by_label("Unit").select_option(str(units["Research"]))
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**unit={units['Research']}**")
    expect(page.get_by_role("heading", level=1)).to_have_text("Trends: Lab/Research")
    expect(page.get_by_label("Unit")).to_have_value(str(units["Research"]))
    assert check_panels(page, units["Research"]) == themes

    page.goto("/reports")
    with page.expect_download() as info:
        page.get_by_role("link", name="(CSV)").click()
    download = info.value
    assert download.failure() is None
    assert download.suggested_filename.endswith("-results.csv")
    lines = open(download.path(), encoding="utf-8").read().splitlines()
    assert lines[0] == CSV_HEADER
    assert any(",Lab/Ops/Small," in line and line.endswith("," + HIDDEN_TEXT) for line in lines)

    page.get_by_role("button", name=f"Log out {STAFF['hr']}").click()
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    expect(page.get_by_role("link", name="Dashboard")).to_have_count(0)
    page.goto("/dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff login")
