"""“You said, we did”: HR keeps action plans answering released rounds, on one page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from ..clock import utcnow
from ..db import get_session
from ..models import Action, ActionStatus, Program, Round
from ..services import actions
from .forms import ActionForm
from .security import ANALYSTS, roles_required

bp = Blueprint("actions", __name__, url_prefix="/actions")

STATUS_PAIRS = [(s.value, label) for s, label in actions.STATUS_LABELS.items()]


def _choices(pairs: Any, empty: str) -> list[SelectChoice]:
    """Return select choices: an empty one labelled ``empty``, then ``pairs``."""
    return [SelectChoice("", empty), *(SelectChoice(value, label) for value, label in pairs)]


def _optional_int(value: Any) -> int | None:
    """Coerce a select's value to an id; the empty choice means none."""
    return int(value) if value not in (None, "", "None") else None


class PlanFields(FlaskForm):  # type: ignore[misc]
    """Who owns an action, for which unit, and when it is due."""

    unit = SelectField("Unit", coerce=_optional_int, validate_choice=True)
    owner = SelectField(
        "Owner", coerce=_optional_int, validators=[InputRequired(message="Choose an owner.")]
    )
    due_on = DateField("Due", validators=[InputRequired(message="Give a due date.")])


class NewActionForm(PlanFields):
    """A new action: the released round and theme it answers, and what will be done."""

    round = SelectField(
        "Round", coerce=_optional_int, validators=[InputRequired(message="Choose a round.")]
    )
    theme = SelectField("Theme", validators=[InputRequired(message="Choose a theme.")])
    status = SelectField(
        "Status",
        choices=[SelectChoice(v, label) for v, label in STATUS_PAIRS],
        default=ActionStatus.PLANNED.value,
    )
    text = TextAreaField(
        "What will be done",
        validators=[
            InputRequired(message="Describe the action."),
            Length(
                max=actions.MAX_ACTION_CHARS,
                message=f"Keep it under {actions.MAX_ACTION_CHARS} characters.",
            ),
        ],
    )


class UpdateForm(FlaskForm):  # type: ignore[misc]
    """A dated update: where the action stands now, and what happened."""

    status = SelectField("Status", choices=[SelectChoice(v, label) for v, label in STATUS_PAIRS])
    note = TextAreaField(
        "What happened",
        validators=[
            Optional(),
            Length(
                max=actions.MAX_UPDATE_CHARS,
                message=f"Keep it under {actions.MAX_UPDATE_CHARS} characters.",
            ),
        ],
    )


def _with_choices(form: Any, choices: actions.Choices) -> Any:
    """Fill a form's selects from what exists now."""
    form.unit.choices = _choices(choices.units, actions.WHOLE_ORGANISATION)
    form.owner.choices = _choices(choices.owners, "Choose an owner")
    if isinstance(form, NewActionForm):
        form.round.choices = _choices(choices.rounds, "Choose a round")
        form.theme.choices = _choices(choices.themes, "Choose a theme")
    return form


def _filter() -> tuple[actions.ActionFilter, dict[str, str]]:
    """Return the list filter from the query string, and the values to show in its form."""
    args = {
        k: request.args.get(k, "")[:64] for k in ("program", "status", "theme", "unit", "owner")
    }
    statuses = {s.value: s for s in ActionStatus}
    ids = {k: int(v) if v.isdigit() else None for k, v in args.items() if k != "theme"}
    return (
        actions.ActionFilter(
            program_id=ids["program"],
            status=statuses.get(args["status"]),
            theme=args["theme"] or None,
            unit_id=ids["unit"],
            owner_id=ids["owner"],
        ),
        args,
    )


def _index_page(form: NewActionForm | None = None) -> str:
    session = get_session()
    choices = actions.choices(session)
    where, shown = _filter()
    listed, total = actions.list_actions(session, where, utcnow().date())
    return render_template(
        "actions/index.html",
        actions=listed,
        total=total,
        choices=choices,
        filters=shown,
        filtered=any(shown.values()),
        statuses=STATUS_PAIRS,
        form=form or _with_choices(NewActionForm(None), choices),
        opened=form is not None,
        max_chars=actions.MAX_ACTION_CHARS,
        shown=actions.SHOWN_TO_EMPLOYEES,
    )


@bp.get("/")
@roles_required(*ANALYSTS)
def index() -> str:
    """List action plans, filtered, with a form to record one."""
    return _index_page()


@bp.post("/")
@roles_required(*ANALYSTS)
def record() -> Response | tuple[str, int]:
    """Record an action answering a released round."""
    session = get_session()
    form = _with_choices(NewActionForm(), actions.choices(session))
    if not form.validate_on_submit():
        return _index_page(form), 400
    rnd = session.get(Round, form.round.data)
    program = session.get(Program, rnd.program_id) if rnd is not None else None
    try:
        if rnd is None or program is None:
            raise actions.ActionError("That round is not released; choose one from the list.")
        action = actions.add_action(
            session,
            program,
            rnd,
            form.theme.data,
            form.text.data,
            utcnow().date(),
            unit_id=form.unit.data,
            owner_id=form.owner.data,
            due_on=form.due_on.data,
            status=ActionStatus(form.status.data),
            author=g.user.email,
        )
    except actions.ActionError as exc:
        session.rollback()
        form.text.errors = [str(exc)]
        return _index_page(form), 400
    session.commit()
    flash(
        f"Recorded for {rnd.label}. Employees see it on the survey pages of the next rounds.",
        "info",
    )
    return redirect(url_for("actions.show", action_id=action.id))


def _show_page(
    action_id: int, update: UpdateForm | None = None, plan: PlanFields | None = None
) -> str:
    session = get_session()
    shown = actions.get_action(session, action_id, utcnow().date())
    choices = actions.choices(session)
    if plan is None:
        plan = _with_choices(
            PlanFields(None, unit=shown.unit_id, owner=shown.owner_id, due_on=shown.due_on),
            choices,
        )
    return render_template(
        "actions/show.html",
        action=shown,
        update=update or UpdateForm(None, status=shown.status.value),
        plan=plan,
        remove=ActionForm(None),
        max_chars=actions.MAX_UPDATE_CHARS,
    )


def _gone(action_id: int) -> Response | None:
    """Return a redirect to the list if the action does not exist (any more), else None."""
    if get_session().get(Action, action_id) is not None:
        return None
    flash(actions.MISSING, "error")
    return redirect(url_for("actions.index"))


@bp.get("/<int:action_id>")
@roles_required(*ANALYSTS)
def show(action_id: int) -> str | Response:
    """Show one action with its dated updates and the forms that change it."""
    return _gone(action_id) or _show_page(action_id)


@bp.post("/<int:action_id>/updates")
@roles_required(*ANALYSTS)
def add_update(action_id: int) -> Response | tuple[str, int]:
    """Record a dated update and the status it leaves the action in."""
    gone = _gone(action_id)
    if gone is not None:
        return gone
    session = get_session()
    form = UpdateForm()
    if not form.validate_on_submit():
        return _show_page(action_id, update=form), 400
    try:
        actions.update_action(
            session,
            action_id,
            utcnow().date(),
            ActionStatus(form.status.data),
            form.note.data or "",
            g.user.email,
        )
    except actions.ActionError as exc:
        session.rollback()
        form.note.errors = [str(exc)]
        return _show_page(action_id, update=form), 400
    session.commit()
    flash("Update recorded.", "info")
    return redirect(url_for("actions.show", action_id=action_id))


@bp.post("/<int:action_id>/plan")
@roles_required(*ANALYSTS)
def edit_plan(action_id: int) -> Response | tuple[str, int]:
    """Change an action's unit, owner and due date."""
    gone = _gone(action_id)
    if gone is not None:
        return gone
    session = get_session()
    form = _with_choices(PlanFields(), actions.choices(session))
    if not form.validate_on_submit():
        return _show_page(action_id, plan=form), 400
    try:
        actions.edit_plan(session, action_id, form.unit.data, form.owner.data, form.due_on.data)
    except actions.ActionError as exc:
        session.rollback()
        form.due_on.errors = [str(exc)]
        return _show_page(action_id, plan=form), 400
    session.commit()
    flash("Plan changed.", "info")
    return redirect(url_for("actions.show", action_id=action_id))


@bp.post("/<int:action_id>/delete")
@roles_required(*ANALYSTS)
def delete(action_id: int) -> Response:
    """Remove an action; employees no longer see it."""
    session = get_session()
    try:
        actions.delete_action(session, action_id)
    except actions.ActionError as exc:
        flash(str(exc), "error")
        return redirect(url_for("actions.index"))
    session.commit()
    flash("The action was removed; employees no longer see it.", "info")
    return redirect(url_for("actions.index"))
