"""HR dashboard: trends per theme and unit, read from release manifests only."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..db import get_session
from ..domain import reporting
from ..models import Program
from ..services import chartcache, rounds
from .security import ANALYSTS, STAFF, roles_required

bp = Blueprint("dashboard", __name__)


def _program(program_id: int | None) -> Program | None:
    session = get_session()
    if program_id is None:
        return session.scalar(select(Program).order_by(Program.id).limit(1))
    return session.get(Program, program_id)


@bp.get("/dashboard")
@roles_required(*ANALYSTS)
def index() -> str:
    """Show every theme's trend for one unit, each chart with its data table."""
    program = _program(request.args.get("program", type=int))
    if program is None:
        return render_template("dashboard/empty.html")
    manifests = rounds.released_manifests(get_session(), program.id)
    units = reporting.unit_choices(manifests)
    unit_id = request.args.get("unit", type=int) or reporting.root_unit(manifests)
    unit = next((u for u in units if u.id == unit_id), None)
    if manifests and unit is None:
        abort(404)
    themes = reporting.themes_of(manifests)
    panels = [
        {
            "key": key,
            "label": label,
            "rows": reporting.trend_rows(manifests, unit.id, key) if unit else [],
        }
        for key, label in themes
    ]
    return render_template(
        "dashboard/index.html",
        program=program,
        programs=list(get_session().scalars(select(Program).order_by(Program.id))),
        manifests=manifests,
        units=units,
        unit=unit,
        panels=panels,
        bands=reporting.band_rows(manifests[-1], unit.id) if manifests and unit else [],
        themes=themes,
    )


@bp.get("/charts/trend/<int:program_id>/<int:unit_id>/<theme>.<fmt>")
@roles_required(*STAFF)
def trend_chart(program_id: int, unit_id: int, theme: str, fmt: str) -> Response:
    """Return one trend chart as PNG or SVG, rendered once per set of manifests."""
    if fmt not in chartcache.FORMATS:
        abort(404)
    manifests = rounds.released_manifests(get_session(), program_id)
    themes = dict(reporting.themes_of(manifests))
    units = {u.id: u for u in reporting.unit_choices(manifests)}
    if theme not in themes or unit_id not in units:
        abort(404)
    body = chartcache.trend(
        current_app.config["CHART_CACHE_DIR"],
        manifests,
        unit_id,
        theme,
        themes[theme],
        units[unit_id].path,
        fmt,
    )
    return Response(body, mimetype=chartcache.FORMATS[fmt])
