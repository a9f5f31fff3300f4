"""HR dashboard: overview, trends with events, heatmap, answer distributions and comments.

Every page reads release manifests only (through ``survey.domain.reporting``); a unit or round
the manifests do not show is a 404, never a page with fewer protections. Charts come from the
disk cache, so a page whose charts are drawn already never imports matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask import (
    Blueprint,
    abort,
    flash,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.wrappers import Response
from wtforms import DateField, StringField
from wtforms.validators import InputRequired, Length

from ..clock import utcnow
from ..db import get_session
from ..domain import reporting
from ..domain.disclosure import DISTRIBUTION_MIN_N
from ..domain.manifest import Manifest
from ..models import Round
from ..services import actions as actions_service
from ..services import banks, chartcache, drawing, events
from ..services import programs as programs_service
from ..services.programs import ProgramChoice
from ..services.scope import ScopedManifests
from .kept_views import (
    cache_dir,
    kept_body,
    kept_fragment,
    programs_key,
    reference_for,
    render_page,
    themes_of,
    trend_panels,
    unit_choices,
)
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


def all_programs() -> list[ProgramChoice]:
    """Return every programme, in the order they were set up."""
    return programs_service.choices(get_session())


def chosen_program(
    programs: Sequence[ProgramChoice], program_id: int | None
) -> ProgramChoice | None:
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


# --- pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The programme a dashboard page is about and its released manifests (never empty)."""

    programs: list[ProgramChoice]
    program: ProgramChoice
    cut: ScopedManifests  # the manifests as the reader may see them

    @property
    def manifests(self) -> Sequence[Manifest]:
        """Return the manifests the reader sees, oldest first."""
        return self.cut.manifests


def _scope(template: str, page: str, title: str | None = None) -> Scope | str:
    """Return the page's programme and manifests, or the page to show when there are none.

    With ``title``, ``template`` is a page body (:mod:`survey.web.kept_views`), shown in the
    base layout under that title.
    """
    programs = all_programs()
    program = chosen_program(programs, request.args.get("program", type=int))
    if program is None:
        return render_template("dashboard/empty.html")
    scoped = reader_scope(program.id)
    if not scoped.manifests:
        page_or_body = render_template(
            template, page=page, programs=programs, program=program, manifests=scoped.manifests
        )
        if title is None:
            return page_or_body
        return render_page(title, Markup(page_or_body))  # noqa: S704 - our autoescaped template
    return Scope(programs, program, scoped)


@bp.get("/dashboard")
@roles_required(*ANALYSTS)
def index() -> str:
    """Show the latest released round at a glance: headlines, changes, participation."""
    scoped = _scope("dashboard/_overview_body.html", "overview", "Overview")
    if isinstance(scoped, str):
        return scoped
    programs, program, manifests = scoped.programs, scoped.program, scoped.manifests
    units = unit_choices(scoped.cut)
    unit = _unit(units, manifests)
    latest = manifests[-1]
    themes = themes_of(scoped.cut)
    labels = dict(themes)
    actions = actions_service.round_actions(get_session(), program.id, latest.round.id)
    shown = tuple((labels.get(a.theme, a.theme), a) for a in actions)
    body = kept_body(
        scoped.cut,
        "dashboard/_overview_body.html",
        (program.id, programs_key(programs), unit.id, shown),
        lambda: {
            "page": "overview",
            "programs": programs,
            "program": program,
            "manifests": manifests,
            "latest": latest,
            "units": units,
            "unit": unit,
            "view": scoped.cut.view(
                ("overview", unit.id), lambda: reporting.overview(manifests, unit.id, themes)
            ),
            "actions": shown,
            "comments": scoped.cut.view(
                ("comment groups", latest.round.number),
                lambda: tuple(reporting.comment_groups(latest)),
            ),
            "plural": reporting.plural,
        },
    )
    return render_page("Overview", body)


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
    on_charts = tuple(reporting.Event(e.on.isoformat(), e.label) for e in timeline)
    panels = trend_panels(program.id, scoped, unit, on_charts) if unit else ()
    if panels and not chartcache.is_stored(cache_dir(), panels[0].chart_key, "png"):
        drawing.warm()  # its start-up overlaps the browser reading this page
    body = kept_body(
        scoped,
        "dashboard/_trends_body.html",
        (program.id, programs_key(programs), unit.id if unit else None, on_charts),
        lambda: {
            "page": "trends",
            "programs": programs,
            "program": program,
            "manifests": manifests,
            "units": units,
            "unit": unit,
            "panels": panels,
            "bands": scoped.view(
                ("bands", unit.id), lambda: tuple(reporting.band_rows(manifests[-1], unit.id))
            )
            if manifests and unit
            else (),
            "themes": themes_of(scoped),
            "favourable_note": reporting.FAVOURABLE_CODING,
            "not_asked": reporting.NOT_ASKED_TEXT,
        },
    )
    timeline_section = kept_fragment(
        scoped,
        "dashboard/_trends_events.html",
        (program.id, program.name, unit.id if unit else None, tuple(timeline)),
        lambda: {
            "program": program,
            "unit": unit,
            "timeline": timeline,
            "placed": {
                e.id: reporting.round_of_event(manifests, e.on.isoformat()) for e in timeline
            },
            "event_fields": _event_fields(),
        },
    )
    return render_page("Trends", body + timeline_section)


def _event_fields() -> Markup:
    """Return the add-event form's fields, empty, as every reader gets them (no CSRF token)."""
    form = EventForm(formdata=None, meta={"csrf": False})
    return Markup(render_template("dashboard/_event_fields.html", form=form))  # noqa: S704


@bp.get("/dashboard/heatmap")
@roles_required(*ANALYSTS)
def heatmap() -> str:
    """Show units × themes of one round, coloured by the difference from the organisation."""
    scoped = _scope("dashboard/_heatmap_body.html", "heatmap", "Heatmap")
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

    def context() -> dict[str, object]:
        data = reporting.heatmap(manifest, scope.id)
        charts = {
            fmt: url_for(
                "dashboard.heatmap_chart",
                program_id=program.id,
                number=number,
                unit_id=scope.id,
                fmt=fmt,
            )
            for fmt in ("png", "svg")
        }
        table = get_template_attribute("dashboard/_heatmap_table.html", "heatmap_table")
        return dict(
            page="heatmap",
            programs=programs,
            program=program,
            manifests=manifests,
            manifest=manifest,
            units=scopes,
            unit=scope,
            data=data,
            table=table(manifest, data),
            **charts,
        )

    key = (program.id, programs_key(programs), number, scope.id)
    body = kept_body(scoped.cut, "dashboard/_heatmap_body.html", key, context)
    return render_page("Heatmap", body)


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
        cache_dir(),
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
    body = chartcache.heatmap(cache_dir(), reporting.heatmap(manifest, unit_id), fmt)
    return _chart_response(body, fmt, f"candor-heatmap-{program_id}-R{number}-{unit_id}")


def _chart_response(body: bytes, fmt: str, name: str) -> Response:
    """Return chart bytes, inline; security headers give SVG its own policy (see security)."""
    response = Response(body, mimetype=chartcache.FORMATS[fmt])
    response.headers["Content-Disposition"] = f'inline; filename="{name}.{fmt}"'
    return response
