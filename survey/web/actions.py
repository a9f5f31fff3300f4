"""“You said, we did”: HR records what leadership did after each released round."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectField, TextAreaField
from wtforms.validators import InputRequired, Length

from ..clock import utcnow
from ..db import get_session
from ..domain.questions import Theme
from ..models import Round, RoundStatus
from ..services import actions
from ..services.banks import frozen_bank
from .forms import ActionForm
from .security import ANALYSTS, roles_required

bp = Blueprint("actions", __name__, url_prefix="/actions")


class RecordActionForm(FlaskForm):  # type: ignore[misc]
    """One action: the theme it answers and what was done. One form per round on the page."""

    theme = SelectField("Theme", validators=[InputRequired(message="Choose a theme.")])
    text = TextAreaField(
        "What was done",
        validators=[
            InputRequired(message="Describe what was done."),
            Length(
                max=actions.MAX_ACTION_CHARS,
                message=f"Keep it under {actions.MAX_ACTION_CHARS} characters.",
            ),
        ],
    )


def _record_form(rnd: Round, themes: tuple[Theme, ...], submitted: bool) -> RecordActionForm:
    """Return the form of one round; its prefix keeps field ids unique on the page."""
    prefix = f"r{rnd.id}"
    form = RecordActionForm(prefix=prefix) if submitted else RecordActionForm(None, prefix=prefix)
    form.theme.choices = [("", "Choose a theme")] + [(t.key, t.label) for t in themes]
    return form


def _index_page(failed: RecordActionForm | None = None, failed_round: int = 0) -> str:
    entries = actions.released_rounds(get_session())
    forms = {
        # Only the form that failed shows what was sent; the others start empty.
        e.round.id: failed
        if failed is not None and e.round.id == failed_round
        else _record_form(e.round, e.themes, submitted=False)
        for e in entries
    }
    return render_template(
        "actions/index.html",
        entries=entries,
        forms=forms,
        max_chars=actions.MAX_ACTION_CHARS,
        shown=actions.SHOWN_TO_EMPLOYEES,
    )


@bp.get("/")
@roles_required(*ANALYSTS)
def index() -> str:
    """List released rounds, newest first, with their actions and a form to record one."""
    return _index_page()


@bp.post("/rounds/<int:round_id>")
@roles_required(*ANALYSTS)
def record(round_id: int) -> Response | tuple[str, int]:
    """Record an action answering a released round."""
    session = get_session()
    rnd = session.get(Round, round_id)
    if rnd is None or rnd.status is not RoundStatus.RELEASED:
        flash("Nothing recorded: actions answer a released round, and this one is not.", "error")
        return redirect(url_for("actions.index"))
    form = _record_form(rnd, frozen_bank(rnd).themes, submitted=True)
    if not form.validate_on_submit():
        return _index_page(form, round_id), 400
    try:
        actions.add_action(
            session, rnd.program, rnd, form.theme.data, form.text.data, utcnow().date()
        )
    except actions.ActionError as exc:
        session.rollback()
        form.text.errors = [str(exc)]
        return _index_page(form, round_id), 400
    session.commit()
    flash(
        f"Recorded for {rnd.label}. Employees see it on the survey pages of the next rounds.",
        "info",
    )
    return redirect(url_for("actions.index", _anchor=f"round-{round_id}"))


@bp.post("/<int:action_id>/delete")
@roles_required(*ANALYSTS)
def delete(action_id: int) -> Response:
    """Remove an action; employees no longer see it."""
    session = get_session()
    if not ActionForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
        return redirect(url_for("actions.index"))
    try:
        actions.delete_action(session, action_id)
    except actions.ActionError as exc:
        flash(str(exc), "error")
        return redirect(url_for("actions.index"))
    session.commit()
    flash("The action was removed; employees no longer see it.", "info")
    return redirect(url_for("actions.index"))
