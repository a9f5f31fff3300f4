"""Administration: programmes and the life of their rounds."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..db import get_session, session_scope
from ..domain.crypto import CryptoError
from ..domain.release import ReleaseError
from ..models import Program, Role, RoundStatus
from ..services import rounds
from .forms import ActionForm
from .security import roles_required, utcnow

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@roles_required(Role.ADMIN)
def index() -> str:
    """List programmes and their rounds with what can be done next."""
    programs = list(get_session().scalars(select(Program).order_by(Program.id)))
    today = utcnow().date()
    participation = {}
    with session_scope(current_app) as writer:  # the day's figure is recorded once, then fixed
        for program in programs:
            for rnd in program.rounds:
                if rnd.status is RoundStatus.OPEN:
                    participation[rnd.id] = rounds.participation_today(
                        writer, rounds.get_round(writer, rnd.id), today
                    )
        writer.commit()
    return render_template(
        "admin/index.html", programs=programs, form=ActionForm(), participation=participation
    )


@bp.post("/rounds/<int:round_id>/<action>")
@roles_required(Role.ADMIN)
def round_action(round_id: int, action: str) -> Response:
    """Open, close or release a round."""
    session = get_session()
    if not ActionForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
        return redirect(url_for("admin.index"))
    kek: bytes = current_app.extensions["candor.kek"]
    today = utcnow().date()
    try:
        rnd = rounds.get_round(session, round_id)
        if action == "open":
            count = rounds.open_round(session, rnd, kek, today)
            message = f"{rnd.label} is open; {count} people can answer."
        elif action == "close":
            rounds.close_round(session, rnd, today)
            message = f"{rnd.label} is closed; unused links no longer work."
        elif action == "release":
            rounds.release_round(session, rnd, kek, today)
            message = f"{rnd.label} is released; results are on the dashboard."
        else:
            flash(f"Unknown action {action!r}.", "error")
            return redirect(url_for("admin.index"))
        session.commit()
        flash(message, "info")
    except (rounds.RoundError, ReleaseError, CryptoError) as exc:
        session.rollback()
        flash(f"Nothing changed: {exc}", "error")
    return redirect(url_for("admin.index"))


@bp.post("/programs/<int:program_id>/rounds")
@roles_required(Role.ADMIN)
def new_round(program_id: int) -> Response:
    """Add a draft round to a programme."""
    session = get_session()
    program = session.get(Program, program_id)
    if program is None or not ActionForm().validate_on_submit():
        flash("Nothing changed: unknown programme or expired form.", "error")
        return redirect(url_for("admin.index"))
    rnd = rounds.create_round(session, program)
    session.commit()
    flash(f"Draft {rnd.label} added to {program.name}.", "info")
    return redirect(url_for("admin.index"))
