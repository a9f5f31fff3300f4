"""HR dashboard: overview, trends with events, heatmap, answer distributions and comments.

Every page reads release manifests only (through ``survey.domain.reporting``); a unit or round
the manifests do not show is a 404, never a page with fewer protections. Charts come from the
disk cache, so a page whose charts are drawn already never imports matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import DateField, StringField
from wtforms.validators import InputRequired, Length

from ..clock import utcnow
from ..db import get_session
from ..domain import reporting
from ..domain.disclosure import DISTRIBUTION_MIN_N
from ..domain.manifest import Manifest
from ..models import Program, Round
from ..services import actions as actions_service
from ..services import banks, chartcache, drawing, events
from ..services.scope import ScopedManifests
from .forms import ActionForm
from .security import ANALYSTS, STAFF, reader_scope, roles_required

bp = Blueprint("dashboard", __name__)


class EventForm(FlaskForm):  # type: ignore[misc]
    """An event to mark on the trend charts (shape only; the events service checks meaning)."""

    on = DateField("Date", validators=[InputRequired(message="Give the event's date.")])
    label = StringField(
        "What happened",
        validators=[
            InputRequired(message="Say what happened, in a few words."),
            Length(max=events.MAX_LABEL_CHARS),
        ],
    )


# --- selection from the query string ---------------------------------------------------------


def all_programs() -> list[Program]:
    return list(get_session().scalars(select(Program).order_by(Program.id)))


def chosen_program(programs: Sequence[Program], program_id: int | None) -> Program | None:
    """Return the programme asked for (404 if unknown), or the first one."""
    if program_id is None:
        return programs[0] if programs else None
    found = next((p for p in programs if p.id == program_id), None)
    if found is None:
        abort(404)
    return found


def _unit(
    choices: Sequence[reporting.UnitChoice], manifests: Sequence[Manifest]
) -> reporting.UnitChoice:
    """Return the unit named by ``?unit=`` among ``choices`` (404 if not there), or the root."""
    wanted = request.args.get("unit", type=int) or reporting.root_unit(manifests)
    unit = next((u for u in choices if u.id == wanted), None)
    if unit is None:
        abort(404)
    return unit


def _round_index(manifests: Sequence[Manifest]) -> int:
    """Return the index of the round named by ``?round=`` (its number; 404 if not released)."""
    number = request.args.get("round", type=int)
    if number is None:
        return len(manifests) - 1
    index = reporting.manifest_by_number(manifests, number)
    if index is None:
        abort(404)
    return index


def _cache_dir() -> str:
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
    cache = _cache_dir()
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


# --- pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The programme a dashboard page is about and its released manifests (never empty)."""

    programs: list[Program]
    program: Program
    cut: ScopedManifests  # the manifests as the reader may see them

    @property
    def manifests(self) -> Sequence[Manifest]:
        """Return the manifests the reader sees, oldest first."""
        return self.cut.manifests


def _scope(template: str, page: str) -> Scope | str:
    """Return the page's programme and manifests, or the page to show when there are none."""
    programs = all_programs()
    program = chosen_program(programs, request.args.get("program", type=int))
    if program is None:
        return render_template("dashboard/empty.html")
    scoped = reader_scope(program.id)
    if not scoped.manifests:
        return render_template(
            template, page=page, programs=programs, program=program, manifests=scoped.manifests
        )
    return Scope(programs, program, scoped)


@bp.get("/dashboard")
@roles_required(*ANALYSTS)
def index() -> str:
    """Show the latest released round at a glance: headlines, changes, participation."""
    scoped = _scope("dashboard/overview.html", "overview")
    if isinstance(scoped, str):
        return scoped
    programs, program, manifests = scoped.programs, scoped.program, scoped.manifests
    session = get_session()
    units = unit_choices(scoped.cut)
    unit = _unit(units, manifests)
    latest = manifests[-1]
    themes = themes_of(scoped.cut)
    labels = dict(themes)
    actions = actions_service.round_actions(session, program.id, latest.round.id)
    return render_template(
        "dashboard/overview.html",
        page="overview",
        programs=programs,
        program=program,
        manifests=manifests,
        latest=latest,
        units=units,
        unit=unit,
        view=scoped.cut.view(
            ("overview", unit.id), lambda: reporting.overview(manifests, unit.id, themes)
        ),
        actions=[(labels.get(a.theme, a.theme), a) for a in actions],
        comments=scoped.cut.view(
            ("comment groups", latest.round.number),
            lambda: tuple(reporting.comment_groups(latest)),
        ),
        plural=reporting.plural,
    )


@bp.get("/dashboard/trends")
@roles_required(*ANALYSTS)
def trends() -> str:
    """Show every theme's trend for one unit, each chart with its table and text alternative."""
    programs = all_programs()
    program = chosen_program(programs, request.args.get("program", type=int))
    if program is None:
        return render_template("dashboard/empty.html")
    session = get_session()
    scoped = reader_scope(program.id)
    manifests = scoped.manifests
    units = unit_choices(scoped)
    unit = _unit(units, manifests) if manifests else None
    timeline = events.list_events(session, program.id)
    # The same events as ``events.chart_events`` gives, without reading them twice.
    on_charts = [reporting.Event(e.on.isoformat(), e.label) for e in timeline]
    closed = [m.round.closed_on for m in manifests]
    placed = {e.id: reporting.round_of_event(manifests, e.on.isoformat()) for e in timeline}
    panels = trend_panels(program.id, scoped, unit, on_charts) if unit else ()
    if panels and chartcache.peek(_cache_dir(), panels[0].chart_key, "png") is None:
        drawing.warm()  # its start-up overlaps the browser reading this page
    return render_template(
        "dashboard/trends.html",
        page="trends",
        programs=programs,
        program=program,
        manifests=manifests,
        units=units,
        unit=unit,
        panels=panels,
        bands=scoped.view(
            ("bands", unit.id), lambda: tuple(reporting.band_rows(manifests[-1], unit.id))
        )
        if manifests and unit
        else (),
        themes=themes_of(scoped),
        timeline=timeline,
        placed=placed,
        last_closed=closed[-1] if closed else None,
        form=EventForm(),
        delete_form=ActionForm(),
        favourable_note=reporting.FAVOURABLE_CODING,
        not_asked=reporting.NOT_ASKED_TEXT,
    )


@bp.get("/dashboard/heatmap")
@roles_required(*ANALYSTS)
def heatmap() -> str:
    """Show units × themes of one round, coloured by the difference from the organisation."""
    scoped = _scope("dashboard/heatmap.html", "heatmap")
    if isinstance(scoped, str):
        return scoped
    programs, program, manifests = scoped.programs, scoped.program, scoped.manifests
    index = _round_index(manifests)
    manifest = manifests[index]
    number = manifest.round.number
    scopes = scoped.cut.view(
        ("round units", number), lambda: tuple(reporting.round_units(manifest))
    )
    scope = _unit(scopes, manifests[: index + 1])
    data = scoped.cut.view(
        ("heatmap", number, scope.id), lambda: reporting.heatmap(manifest, scope.id)
    )
    # The data table (a row per unit) is rendered once for these manifests, round and unit.
    table = scoped.cut.view(
        ("heatmap table", number, scope.id),
        lambda: cast(
            Markup,
            get_template_attribute("dashboard/_heatmap_table.html", "heatmap_table")(
                manifest, data
            ),
        ),
    )
    return render_template(
        "dashboard/heatmap.html",
        page="heatmap",
        programs=programs,
        program=program,
        manifests=manifests,
        manifest=manifest,
        units=scopes,
        unit=scope,
        data=data,
        table=table,
        png=url_for(
            "dashboard.heatmap_chart",
            program_id=program.id,
            number=manifest.round.number,
            unit_id=scope.id,
            fmt="png",
        ),
        svg=url_for(
            "dashboard.heatmap_chart",
            program_id=program.id,
            number=manifest.round.number,
            unit_id=scope.id,
            fmt="svg",
        ),
    )


@bp.get("/dashboard/distributions")
@roles_required(*ANALYSTS)
def distributions() -> str:
    """Show how one unit answered each question of a round, and how well each scale held up."""
    scoped = _scope("dashboard/distributions.html", "distributions")
    if isinstance(scoped, str):
        return scoped
    programs, program, manifests = scoped.programs, scoped.program, scoped.manifests
    session = get_session()
    index = _round_index(manifests)
    manifest = manifests[index]
    units = reporting.round_units(manifest)
    unit = _unit(units, manifests[: index + 1])
    rnd = session.get(Round, manifest.round.id)
    if rnd is None or rnd.items is None:
        abort(404)
    items = banks.frozen_bank(rnd).items_for(tuple(rnd.items["asked"]))
    found = reporting.distributions(manifest, unit.id, items)
    by_theme = [
        (key, label, [d for d in found if d.theme == key])
        for key, label in ((t.key, t.label) for t in manifest.themes)
    ]
    cell = manifest.unit(unit.id)
    if cell is None:
        abort(404)
    return render_template(
        "dashboard/distributions.html",
        page="distributions",
        programs=programs,
        program=program,
        manifests=manifests,
        manifest=manifest,
        units=units,
        unit=unit,
        n=cell.n,
        by_theme=[t for t in by_theme if t[2]],
        has_distributions=bool(found),
        quality=reporting.scale_quality(manifest, unit.id),
        cells=cell.themes,
        themes=[(t.key, t.label) for t in manifest.themes],
        favourable_note=reporting.FAVOURABLE_CODING,
        distribution_min_n=DISTRIBUTION_MIN_N,
    )


@bp.get("/dashboard/comments")
@roles_required(*ANALYSTS)
def comments() -> str:
    """Show a round's released comments by group, filtered by a search over their text."""
    scoped = _scope("dashboard/comments.html", "comments")
    if isinstance(scoped, str):
        return scoped
    programs, program, manifests = scoped.programs, scoped.program, scoped.manifests
    manifest = manifests[_round_index(manifests)]
    query = reporting.normalise_query(request.args.get("q", ""))
    groups = reporting.comment_groups(manifest, query)
    return render_template(
        "dashboard/comments.html",
        page="comments",
        programs=programs,
        program=program,
        manifests=manifests,
        manifest=manifest,
        query=query,
        groups=groups,
        matched=sum(len(g.texts) for g in groups),
        total=sum(g.count for g in groups),
        max_query=reporting.COMMENT_QUERY_MAX_CHARS,
        plural=reporting.plural,
    )


# --- timeline events -------------------------------------------------------------------------


def _back_to_trends(program_id: int) -> Response:
    unit = request.form.get("unit", type=int)
    return redirect(url_for("dashboard.trends", program=program_id, unit=unit) + "#events")


@bp.post("/dashboard/<int:program_id>/events")
@roles_required(*ANALYSTS)
def add_event(program_id: int) -> Response:
    """Mark an event on a programme's timeline."""
    form = EventForm()
    if not form.validate_on_submit():
        errors = [e for field in (form.on, form.label) for e in field.errors]
        flash("Nothing added: " + (errors[0] if errors else "the form is incomplete."), "error")
        return _back_to_trends(program_id)
    session = get_session()
    try:
        added = events.add_event(
            session, program_id, form.on.data, form.label.data, utcnow().date()
        )
    except events.EventError as exc:
        flash(f"Nothing added: {exc}", "error")
        return _back_to_trends(program_id)
    session.commit()
    flash(f"Added “{added.label}” on {added.on.isoformat()} to the timeline.", "info")
    return _back_to_trends(program_id)


@bp.post("/dashboard/<int:program_id>/events/<int:event_id>/delete")
@roles_required(*ANALYSTS)
def delete_event(program_id: int, event_id: int) -> Response:
    """Remove an event from a programme's timeline."""
    session = get_session()
    try:
        removed = events.delete_event(session, program_id, event_id)
    except events.EventError as exc:
        flash(f"Nothing removed: {exc}", "error")
        return _back_to_trends(program_id)
    session.commit()
    flash(f"Removed “{removed.label}” from the timeline.", "info")
    return _back_to_trends(program_id)


# --- charts ----------------------------------------------------------------------------------


@bp.get("/charts/trend/<int:program_id>/<int:unit_id>/<theme>.<fmt>")
@roles_required(*STAFF)
def trend_chart(program_id: int, unit_id: int, theme: str, fmt: str) -> Response:
    """Return one trend chart as PNG or SVG, rendered once per set of manifests and events."""
    if fmt not in chartcache.FORMATS:
        abort(404)
    session = get_session()
    scoped = reader_scope(program_id)
    manifests = scoped.manifests
    themes = dict(themes_of(scoped))
    units = {u.id: u for u in unit_choices(scoped)}
    if theme not in themes or unit_id not in units:
        abort(404)
    reference, _ = reference_for(manifests, unit_id, theme)

    body = chartcache.trend(
        _cache_dir(),
        manifests,
        unit_id,
        theme,
        themes[theme],
        units[unit_id].path,
        fmt,
        events.chart_events(session, program_id),
        reference,
    )
    return _chart_response(body, fmt, f"candor-trend-{program_id}-{unit_id}-{theme}")


@bp.get("/charts/heatmap/<int:program_id>/<int:number>/<int:unit_id>.<fmt>")
@roles_required(*ANALYSTS)
def heatmap_chart(program_id: int, number: int, unit_id: int, fmt: str) -> Response:
    """Return a round's heatmap below one unit as PNG or SVG, rendered once."""
    if fmt not in chartcache.FORMATS:
        abort(404)
    manifests = reader_scope(program_id).manifests
    index = reporting.manifest_by_number(manifests, number)
    if index is None:
        abort(404)
    manifest = manifests[index]
    if unit_id not in {u.id for u in reporting.round_units(manifest)}:
        abort(404)
    body = chartcache.heatmap(_cache_dir(), reporting.heatmap(manifest, unit_id), fmt)
    return _chart_response(body, fmt, f"candor-heatmap-{program_id}-R{number}-{unit_id}")


def _chart_response(body: bytes, fmt: str, name: str) -> Response:
    """Return chart bytes, inline; security headers give SVG its own policy (see security)."""
    response = Response(body, mimetype=chartcache.FORMATS[fmt])
    response.headers["Content-Disposition"] = f'inline; filename="{name}.{fmt}"'
    return response
