"""axe-core run on a page in the browser, and an audit that collects its violations page by page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import Page

BLOCKING = ("serious", "critical")
# WCAG 2.x A and AA, plus axe's best practices (landmarks, headings, skip links).
AXE_OPTIONS = {"resultTypes": ["violations"]}


def violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; return its violations."""
    page.evaluate(AXE_SCRIPT)
    result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    assert result["passes"], "axe-core checked nothing"
    return list(result["violations"])


def describe(found: dict[str, list[dict[str, Any]]]) -> str:
    """Render every violation of each page readably for the assertion message."""
    lines = []
    for where, items in found.items():
        for v in items:
            lines.append(f"{where}: {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
            for node in v["nodes"][:5]:
                lines.append(f"    {json.dumps(node['target'])}: {node['failureSummary']!r}")
    return "\n".join(lines)


class Audit:
    """Collect violations page by page, so one failure does not hide the next."""

    def __init__(self) -> None:
        self.found: dict[str, list[dict[str, Any]]] = {}

    def check(self, page: Page, where: str) -> None:
        found = violations(page)
        if found:
            self.found[where] = found

    def assert_clean(self) -> None:
        """Fail on any serious or critical violation; list the lesser ones with them."""
        blocking = [v for items in self.found.values() for v in items if v["impact"] in BLOCKING]
        if blocking:
            pytest.fail("axe-core found serious or critical violations:\n" + describe(self.found))
