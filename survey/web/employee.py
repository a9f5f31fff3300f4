"""The employee survey. Nothing on these routes logs, stores or echoes who is answering.

Links come in two forms: ``/s/<round>#<token>`` keeps the token out of every server log (the
page's script copies it into the form), and ``/s/<round>/<token>`` is the fallback for mail
clients that drop fragments. GET never consumes a link; only a valid POST does.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from sqlalchemy.exc import OperationalError
from werkzeug.wrappers import Response

from ..db import get_session
from ..services import submission
from .forms import answers_from, field_name, survey_form_class

bp = Blueprint("employee", __name__, url_prefix="/s")


def _unusable() -> tuple[str, int]:
    return render_template("employee/unusable.html"), 404


def _not_open(status: str) -> tuple[str, int]:
    return render_template("employee/not_open.html", status=status), 410


def _render(
    survey: submission.Survey, form: Any, status: int = 200, message: str = ""
) -> tuple[str, int]:
    return (
        render_template(
            "employee/form.html",
            survey=survey,
            form=form,
            field_name=field_name,
            message=message,
        ),
        status,
    )


@bp.get("/<int:round_id>")
@bp.get("/<int:round_id>/<token>")
def show(round_id: int, token: str = "") -> tuple[str, int]:
    """Show the survey; with a token in the path, check it without consuming it."""
    session = get_session()
    try:
        survey = submission.survey_for(session, round_id)
    except submission.LinkUnusable:
        return _unusable()
    except submission.RoundNotOpen as closed:
        return _not_open(str(closed))
    if token and not submission.check_token(session, round_id, token):
        return _unusable()
    form = survey_form_class(survey.items)(formdata=None, token=token)
    return _render(survey, form)


@bp.post("/<int:round_id>")
def answer(round_id: int) -> Response | tuple[str, int]:
    """Validate, seal and store the answers, consuming the link in the same transaction."""
    session = get_session()
    try:
        survey = submission.survey_for(session, round_id)
    except submission.LinkUnusable:
        return _unusable()
    except submission.RoundNotOpen as closed:
        return _not_open(str(closed))
    form = survey_form_class(survey.items)()
    if not form.validate_on_submit():
        count = sum(1 for errors in form.errors.values() if errors)
        return _render(
            survey,
            form,
            400,
            f"{count} {'answer needs' if count == 1 else 'answers need'} your attention; "
            "everything you chose is still here.",
        )
    try:
        submission.submit(
            session,
            survey,
            form.token.data.strip(),
            answers_from(form, survey.items),
            form.comment.data or "",
        )
        session.commit()
    except submission.LinkUnusable:
        session.rollback()
        form.token.errors = ["This access code is not valid or has already been used."]
        return _render(
            survey, form, 400, "Your answers were not saved: the access code did not work."
        )
    except OperationalError:
        session.rollback()
        return _render(
            survey, form, 503, "The server was busy and nothing was saved; please send again."
        )
    return redirect(url_for("employee.thanks", round_id=round_id), code=303)


@bp.get("/<int:round_id>/done")
def thanks(round_id: int) -> str:
    """Thank the respondent; the page knows nothing about who they are."""
    return render_template("employee/thanks.html", round_id=round_id)
