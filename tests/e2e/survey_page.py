"""The employee's survey page as a test reads and answers it: its wording, the focused element
and its focus ring, the questions and their choices, the requests it sends."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, Request

from survey import db
from tests.helpers import stored_answers

THANKS = "Thank you — your answers are in"


def focused(page: Page) -> dict[str, str]:
    """Return the tag, type, name and value of the focused element."""
    return page.evaluate(
        """() => { const e = document.activeElement;
                   return {tag: e.tagName.toLowerCase(), type: e.type || '', name: e.name || '',
                           value: e.value || ''}; }"""
    )


# WCAG 2.1 SC 1.4.11: a focus indicator needs 3:1 against what it is drawn on.
FOCUS_RING_CONTRAST = 3.0
FOCUS_RING_JS = """() => {
  const e = document.activeElement, s = getComputedStyle(e);
  if (s.outlineStyle === 'none' || parseFloat(s.outlineWidth) < 2) { return 0; }
  const rgb = c => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  let under = [255, 255, 255];
  for (let p = e.parentElement; p; p = p.parentElement) {
    const c = rgb(getComputedStyle(p).backgroundColor);
    if (c.length < 4 || c[3] > 0) { under = c.slice(0, 3); break; }
  }
  const [a, b] = [lum(rgb(s.outlineColor)), lum(under)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def assert_focus_visible(page: Page) -> None:
    """Check the focused element shows an outline that stands out from its background."""
    contrast = page.evaluate(FOCUS_RING_JS)
    assert contrast >= FOCUS_RING_CONTRAST, f"focus ring contrast {contrast:.2f} on {focused(page)}"


def question_names(page: Page) -> list[str]:
    """Return the radio-group names of the questions, in page order."""
    return page.eval_on_selector_all(
        "fieldset.question", "sets => sets.map(s => s.querySelector('input[type=radio]').name)"
    )


def options_of(page: Page, name: str) -> list[str]:
    return page.eval_on_selector_all(f"input[name={name}]", "inputs => inputs.map(i => i.value)")


def responses_stored(app: Flask) -> int:
    with db.session_scope(app) as session:
        return stored_answers(session)


def answer_by_clicks(page: Page, skip: str = "") -> dict[str, str]:
    """Click the fourth choice of every question except ``skip``; return what was chosen."""
    chosen = {}
    for name in question_names(page):
        if name != skip:
            page.locator(f"fieldset#{name}-group label.choice").nth(3).click()
            chosen[name] = options_of(page, name)[3]
    return chosen


SEND = "Send my answers"


def requests_to(page: Page, suffix: str) -> list[Request]:
    """Collect this page's POST requests to URLs ending in ``suffix``, from now on."""
    seen: list[Request] = []
    page.on(
        "request",
        lambda request: (
            seen.append(request)
            if request.method == "POST" and request.url.endswith(suffix)
            else None
        ),
    )
    return seen
