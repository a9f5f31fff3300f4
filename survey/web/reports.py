"""Leadership: released rounds at organisation and department level, and the CSV export."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..db import get_session
from ..domain import export, reporting
from ..models import Program
from ..services import rounds
from .security import STAFF, roles_required

bp = Blueprint("reports", __name__)
LEADERSHIP_MAX_DEPTH = 1


@bp.get("/reports")
@roles_required(*STAFF)
def index() -> str:
    """List programmes and released rounds with organisation and department trends."""
    session = get_session()
    programs = list(session.scalars(select(Program).order_by(Program.id)))
    selected = request.args.get("program", type=int) or (programs[0].id if programs else None)
    program = next((p for p in programs if p.id == selected), None)
    manifests = rounds.released_manifests(session, program.id) if program else []
    units = [u for u in reporting.unit_choices(manifests) if u.depth <= LEADERSHIP_MAX_DEPTH]
    return render_template(
        "reports/index.html",
        programs=programs,
        program=program,
        manifests=manifests,
        units=units,
        themes=reporting.themes_of(manifests),
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
