"""HR after three releases, in a real browser: the overview, a trend (and marking an event on
it), the heatmap, then the CSV and the printable PDF from the reports page; axe-core finds no
serious or critical violation on the overview, trends and heatmap pages.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect

from survey.domain import manifest, reporting
from survey.domain.disclosure import HIDDEN_TEXT
from tests.conftest import Org
from tests.e2e.audit import Audit
from tests.e2e.conftest import OpenPage, log_in, screenshot
from tests.helpers import closed_on, release_rounds

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def released(app: Flask, organisation: Org) -> list[dict[str, Any]]:
    return release_rounds(app, organisation.program_id, 3)


def assert_loaded(image: Locator) -> None:
    """Check a (possibly lazy) chart image has loaded and decoded."""
    image.scroll_into_view_if_needed()
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0, image.get_attribute("src")


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def test_hr_reads_the_analytics_and_downloads_reports(
    open_page: OpenPage, released: list[dict[str, Any]], organisation: Org
) -> None:
    audit = Audit()
    page = open_page()
    log_in(page, "hr")

    page.goto("/dashboard")
    expect(heading(page)).to_have_text("Overview: Lab")
    typed = [manifest.parse(m) for m in released]
    expect(page.locator("li.headline")).to_have_count(len(reporting.themes_of(typed)))
    expect(page.get_by_role("heading", name="Largest changes")).to_be_visible()
    expect(page.locator("ol.movements li").first).to_contain_text("Lab/Research")
    assert "Small" not in page.content()
    screenshot(page, "overview")
    audit.check(page, "overview")

    page.get_by_role("link", name="Trend of Morale", exact=True).click()
    page.wait_for_url("**/dashboard/trends**")
    expect(heading(page)).to_have_text("Trends: Lab")
    panel = page.locator("section.panel", has=page.locator("#h-morale"))
    assert_loaded(panel.locator("figure img"))
    expect(panel.locator("figcaption")).to_contain_text("Morale — Lab: Index (0-100), 3 rounds.")
    expect(panel.locator("table.data caption")).to_have_text("Morale by round")
    page.evaluate("window.scrollTo(0, 0)")
    audit.check(page, "trends")

    page.get_by_label("Date").fill(closed_on(2).isoformat())
    page.get_by_label("What happened").fill("Re-org of Research")
    page.get_by_role("button", name="Add event").click()
    expect(page.get_by_role("status")).to_contain_text("Added “Re-org of Research”")
    expect(page.locator("#events table.data")).to_contain_text("R2")
    panel = page.locator("section.panel", has=page.locator("#h-morale"))
    expect(panel.locator("figcaption")).to_contain_text("Marked events: Re-org of Research (R2")
    assert_loaded(panel.locator("figure img"))
    audit.check(page, "trends with an event")

    page.get_by_role("navigation", name="Dashboard sections").get_by_role(
        "link", name="Heatmap"
    ).click()
    expect(heading(page)).to_have_text("Heatmap: R3")
    assert_loaded(page.locator("figure.heatmap img"))
    table = page.locator("table.heatmap-table")
    expect(table.locator("tbody tr", has_text="Ops/Small")).to_contain_text(HIDDEN_TEXT)
    screenshot(page, "heatmap")
    audit.check(page, "heatmap")

    page.goto("/reports")
    with page.expect_download() as csv_info:
        page.get_by_role("link", name="(CSV)").click()
    csv_download = csv_info.value
    assert csv_download.failure() is None
    lines = open(csv_download.path(), encoding="utf-8").read().splitlines()
    assert any(",Lab/Ops/Small," in line and line.endswith("," + HIDDEN_TEXT) for line in lines)

    with page.expect_download() as pdf_info:
        page.get_by_role("link", name=f"R3, closed {closed_on(3).isoformat()} (PDF)").click()
    pdf = pdf_info.value
    assert pdf.failure() is None
    assert pdf.suggested_filename == f"candor-{organisation.program_id}-R3.pdf"
    with open(pdf.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    audit.assert_clean()
