"""Leadership: organisation and department trends, the CSV export and the printable report.

Everything here reads release manifests only, at organisation and department level.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from werkzeug.wrappers import Response

from ..db import get_session
from ..domain import export, reporting
from ..models import Program
from ..services import actions as actions_service
from ..services import chartcache, events, rounds
from .dashboard import all_programs, chosen_program, trend_panels
from .security import STAFF, roles_required

bp = Blueprint("reports", __name__)
LEADERSHIP_MAX_DEPTH = 1


@bp.get("/reports")
@roles_required(*STAFF)
def index() -> str:
    """Show the latest round's table, one unit's trends, and every round's printable report."""
    session = get_session()
    programs = all_programs()
    program = chosen_program(programs, request.args.get("program", type=int))
    manifests = rounds.released_manifests(session, program.id) if program else []
    units = [u for u in reporting.unit_choices(manifests) if u.depth <= LEADERSHIP_MAX_DEPTH]
    wanted = request.args.get("unit", type=int)
    unit = next((u for u in units if u.id == wanted), units[0] if units else None)
    panels = (
        trend_panels(program.id, manifests, unit, events.chart_events(session, program.id))
        if program and unit
        else []
    )
    return render_template(
        "reports/index.html",
        programs=programs,
        program=program,
        manifests=manifests,
        units=units,
        unit=unit,
        panels=panels,
        themes=reporting.themes_of(manifests),
        max_depth=LEADERSHIP_MAX_DEPTH,
    )


@bp.get("/export/<int:program_id>.csv")
@roles_required(*STAFF)
def export_csv(program_id: int) -> Response:
    """Download every released round of a programme as CSV, suppressed rows without numbers."""
    program = get_session().get(Program, program_id)
    if program is None:
        return Response("No such programme.\n", status=404, mimetype="text/plain")
    body = export.to_csv(rounds.released_manifests(get_session(), program_id))
    filename = f"candor-{program_id}-results.csv"
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
    manifests = rounds.released_manifests(session, program_id)
    index = reporting.manifest_by_number(manifests, number)
    if index is None:
        abort(404)
    manifest = manifests[index]
    labels = dict(reporting.themes_of(manifests[: index + 1]))
    actions = [
        reporting.ActionRow(labels.get(a.theme, a.theme), a.text, a.recorded_on.isoformat())
        for a in actions_service.round_actions(session, program_id, int(manifest["round"]["id"]))
    ]
    report = reporting.report(
        manifests,
        number,
        actions,
        events.chart_events(session, program_id),
        max_depth=LEADERSHIP_MAX_DEPTH,
    )
    body = chartcache.report_pdf(current_app.config["CHART_CACHE_DIR"], report)
    filename = f"candor-{program_id}-{manifest['round']['label']}.pdf"
    return Response(
        body,
        mimetype=chartcache.PDF_MIMETYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
