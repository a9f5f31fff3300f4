"""Leadership: organisation and department trends, the CSV export and the printable report.

Everything here reads release manifests only, as the scope service cuts them for the reader:
organisation and department level for leaders, their own units for managers.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, render_template, request
from markupsafe import Markup
from werkzeug.wrappers import Response

from ..db import get_session
from ..domain import access, export, reporting
from ..domain.scope import BROADER_TEAM_TEXT, LEADERSHIP_MAX_DEPTH
from ..models import Program
from ..services import actions as actions_service
from ..services import chartcache, events
from .dashboard import all_programs, chosen_program
from .kept_views import kept_body, programs_key, render_page, themes_of, trend_panels, unit_choices
from .security import STAFF, reader_scope, roles_required

bp = Blueprint("reports", __name__)
BODY = "reports/_index_body.html"


@bp.get("/reports")
@roles_required(*STAFF)
def index() -> str:
    """Show the latest round's table, one unit's trends, and every round's printable report."""
    session = get_session()
    programs = all_programs()
    program = chosen_program(programs, request.args.get("program", type=int))
    # The scope service cuts the manifests to the reader (and says how deep this page lists).
    scoped = reader_scope(program.id) if program else None
    manifests = scoped.manifests if scoped else ()
    max_depth = scoped.report_depth if scoped else LEADERSHIP_MAX_DEPTH
    units = [
        u
        for u in (unit_choices(scoped) if scoped else ())
        if max_depth is None or u.depth <= max_depth
    ]
    wanted = request.args.get("unit", type=int)
    unit = next((u for u in units if u.id == wanted), units[0] if units else None)
    printable = access.may_open(g.user.role, "reports.report_pdf")
    # The trend charts mark the programme's events: they are part of what the body shows.
    chart_events = tuple(events.chart_events(session, program.id)) if program else ()

    def context() -> dict[str, object]:
        return {
            "programs": programs,
            "program": program,
            "manifests": manifests,
            "units": units,
            "unit": unit,
            "panels": trend_panels(program.id, scoped, unit, chart_events)
            if program and scoped and unit
            else [],
            "themes": themes_of(scoped) if scoped else (),
            "max_depth": max_depth,
            "broader": scoped.broader if scoped else frozenset(),
            "broader_text": BROADER_TEAM_TEXT,
            "printable": printable,
            "favourable_note": reporting.FAVOURABLE_CODING,
        }

    if program is None or scoped is None:
        return render_page("Reports", Markup(render_template(BODY, **context())))  # noqa: S704
    shown = (program.id, programs_key(programs), unit.id if unit else None, chart_events, printable)
    return render_page("Reports", kept_body(scoped, BODY, shown, context))


@bp.get("/export/<int:program_id>.csv")
@roles_required(*STAFF)
def export_csv(program_id: int) -> Response:
    """Download every released round of a programme as CSV, suppressed rows without numbers."""
    program = get_session().get(Program, program_id)
    if program is None:
        return Response("No such programme.\n", status=404, mimetype="text/plain")
    manifests = reader_scope(program_id).manifests
    body = export.to_csv(manifests)
    filename = export.export_filename(program.name, manifests, f"programme-{program_id}")
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/reports/<int:program_id>/<int:number>.pdf")
@roles_required(*STAFF)
def report_pdf(program_id: int, number: int) -> Response:
    """Download the printable report of one released round, drawn once and kept on disk."""
    session = get_session()
    if session.get(Program, program_id) is None:
        abort(404)
    manifests = reader_scope(program_id).manifests
    index = reporting.manifest_by_number(manifests, number)
    if index is None:
        abort(404)
    manifest = manifests[index]
    labels = dict(reporting.themes_of(manifests[: index + 1]))
    actions = [
        reporting.ActionRow(labels.get(a.theme, a.theme), a.text, a.recorded_on.isoformat())
        for a in actions_service.round_actions(session, program_id, manifest.round.id)
    ]
    report = reporting.report(
        manifests,
        number,
        actions,
        events.chart_events(session, program_id),
        max_depth=LEADERSHIP_MAX_DEPTH,
    )
    body = chartcache.report_pdf(current_app.config["CHART_CACHE_DIR"], report)
    filename = f"candor-{program_id}-{manifest.round.label}.pdf"
    return Response(
        body,
        mimetype=chartcache.PDF_MIMETYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
