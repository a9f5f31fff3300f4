"""What a results page keeps with the reader's cut: trend panels, choices and rendered bodies.

Everything here is kept *inside* a :class:`~survey.services.scope.ScopedManifests`, which is
shared only by readers of the same releases, role and bindings, so nothing kept can reach a
reader of another scope. A kept value is keyed by everything else it shows (query arguments,
programme names, actions, events, the URL root); what belongs to the reader or the request —
the reader's menu and email, a CSRF token, flashed messages — is rendered around a kept body by
``base.html``, never inside it (tests/web/test_kept_pages.py reads the body templates to check).
That layout is itself kept per reader (under their account, role and email) and page title,
split around the token, which each request fills in; a page with a message to show once is
rendered whole.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, get_template_attribute, render_template, request, session, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from ..domain import reporting
from ..domain.manifest import Manifest
from ..kept import Kept
from ..services import chartcache
from ..services.programs import ProgramChoice
from ..services.scope import ScopedManifests

# The template a kept body is shown in: the base layout, a title and the body.
PAGE_TEMPLATE = "kept_page.html"


def programs_key(programs: Iterable[ProgramChoice]) -> tuple[tuple[int, str], ...]:
    """Return what a page body shows of the programmes (the chooser): ids and names."""
    return tuple((p.id, p.name) for p in programs)


def kept_body(
    cut: ScopedManifests,
    template: str,
    key: Hashable,
    context: Callable[[], dict[str, Any]],
) -> Markup:
    """Return ``template`` rendered with ``context()``, rendered once per cut and ``key``.

    ``key`` must name everything the body shows that the cut does not decide; the template
    must read nothing of the request but its URL root (which is part of the key).
    """
    full = ("page body", template, request.script_root, key)
    # Markup: the output of our own autoescaped template, its user text already escaped.
    return cut.body(full, lambda: Markup(render_template(template, **context())))  # noqa: S704


# Where each app keeps the base layout of a staff reader's results pages, split around the
# CSRF token of its logout form and around the body, and how many it keeps: the layout shows
# the reader's menu and email and the page's title, all in its key, and nothing else.
LAYOUTS = "candor.staff_layouts"
LAYOUTS_KEPT = 256
# Where the body goes while a layout is rendered to be kept (random: no page can contain it).
_BODY_MARK = secrets.token_hex(16)


def kept_fragment(
    cut: ScopedManifests, template: str, key: Hashable, context: Callable[[], dict[str, Any]]
) -> Markup:
    """Return ``template`` rendered with ``context()`` and this request's CSRF token.

    Rendered once per cut and ``key`` and kept split around the token, which each request
    puts back (every form of a fragment carries the same token). ``key`` must name everything
    the fragment shows apart from the token; the template must read nothing else of the
    request but its URL root (part of the key).
    """
    token = generate_csrf()
    parts: tuple[str, ...] = cut.body(
        ("fragment", template, request.script_root, key),
        lambda: tuple(render_template(template, **context()).split(token)),
    )
    # Markup: the output of our own autoescaped template, its user text already escaped.
    return Markup(token.join(parts))  # noqa: S704


def render_page(title: str, body: Markup) -> str:
    """Return a whole page: the base layout (this request's parts) around a body.

    For a signed-in reader with no message waiting to be shown once, the layout is rendered
    once per reader, title and URL root, and each request gets its own CSRF token in it.
    """
    user = g.get("user")
    if user is None or session.get("_flashes"):
        return render_template(PAGE_TEMPLATE, title=title, body=body)
    layouts: Kept[Hashable, tuple[str, str, str]] | None = current_app.extensions.get(LAYOUTS)
    if layouts is None:
        layouts = current_app.extensions.setdefault(LAYOUTS, Kept(LAYOUTS_KEPT))
    key = (request.script_root, user.id, user.email, user.role, title)
    parts = layouts.get(key)
    token = generate_csrf()
    if parts is None:
        html = render_template(PAGE_TEMPLATE, title=title, body=Markup(_BODY_MARK))  # noqa: S704
        head, _, rest = html.partition(token)
        between, _, tail = rest.partition(_BODY_MARK)
        if html.count(token) != 1 or html.count(_BODY_MARK) != 1 or _BODY_MARK not in rest:
            return html.replace(_BODY_MARK, str(body))  # not as expected: keep nothing
        parts = layouts.put(key, (head, between, tail))
    head, between, tail = parts
    # Joined as plain text: adding Markup to a str would escape the str.
    return "".join((head, token, between, str(body), tail))


def cache_dir() -> str:
    """Return the chart cache folder of this instance."""
    return str(current_app.config["CHART_CACHE_DIR"])


def reference_for(
    manifests: Sequence[Manifest], unit_id: int, theme: str
) -> tuple[float | None, str]:
    """Return the organisation's latest value of ``theme`` as a reference line, and its words.

    None for the organisation itself, or when its latest measurement is hidden.
    """
    root = reporting.root_unit(manifests)
    if root is None or root == unit_id:
        return None, ""
    rows = reporting.trend_rows(manifests, root, theme)
    if not rows or rows[-1].mean is None:
        return None, ""
    org = manifests[-1].root
    value = rows[-1].mean
    return value, (
        f"Dotted line: {org.path} in {rows[-1].round_label} "
        f"({reporting.format_index(theme, value)})."
    )


@dataclass(frozen=True)
class TrendPanel:
    """One theme's trend as a page shows it: chart URLs, text alternative and data table."""

    key: str
    label: str
    table: Markup
    description: str
    reference_note: str
    png: str
    svg: str
    chart_key: str  # the PNG's key in the chart cache


def trend_panels(
    program_id: int,
    scoped: ScopedManifests,
    unit: reporting.UnitChoice,
    timeline: Sequence[reporting.Event],
) -> tuple[TrendPanel, ...]:
    """Return one panel per theme: its table, text alternative, reference note and chart URLs.

    Computed once per cut, unit, set of events and URL root (:meth:`ScopedManifests.view`):
    a released manifest never changes, and the events are part of the key.
    """
    manifests = scoped.manifests
    cache = cache_dir()
    events_now = tuple(timeline)

    def panels() -> tuple[TrendPanel, ...]:
        table = get_template_attribute("_macros.html", "trend_table")
        found = []
        for key, label in reporting.themes_of(manifests):
            reference, note = reference_for(manifests, unit.id, key)
            rows = reporting.trend_rows(manifests, unit.id, key)
            png, svg = (
                url_for(
                    "dashboard.trend_chart",
                    program_id=program_id,
                    unit_id=unit.id,
                    theme=key,
                    fmt=fmt,
                )
                for fmt in ("png", "svg")
            )
            chart_key = chartcache.trend_key(
                manifests, unit.id, key, label, unit.path, events_now, reference
            )
            description = chartcache.trend_description(
                cache, manifests, unit.id, key, label, unit.path, events_now, reference, chart_key
            )
            # The data table, rendered by its macro: the macro of an autoescaped template
            # returns Markup, its text escaped.
            rendered = table(rows, f"{label} by round")
            found.append(TrendPanel(key, label, rendered, description, note, png, svg, chart_key))
        return tuple(found)

    key = ("trend panels", program_id, unit.id, unit.path, events_now, cache, request.script_root)
    return scoped.view(key, panels)


def unit_choices(scoped: ScopedManifests) -> tuple[reporting.UnitChoice, ...]:
    """Return the units a reader can pick among every round they see (kept with the cut)."""
    return scoped.view(("unit choices",), lambda: tuple(reporting.unit_choices(scoped.manifests)))


def themes_of(scoped: ScopedManifests) -> tuple[tuple[str, str], ...]:
    """Return (key, label) of every theme of the rounds a reader sees (kept with the cut)."""
    return scoped.view(("themes",), lambda: tuple(reporting.themes_of(scoped.manifests)))
