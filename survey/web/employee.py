"""The employee survey. Nothing on these routes logs, stores or echoes who is answering.

Links come in two forms: ``/s/<round>#<token>`` keeps the token out of every server log (the
page's script copies it into the form), and ``/s/<round>/<token>`` is the fallback for mail
clients that drop fragments. GET never consumes a link; only a valid POST does.

Every page speaks the language in ``?lang=`` (a hidden field on the POST), English otherwise.
The choice lives only in the URL and the form: no cookie, session or stored row carries it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy.exc import OperationalError
from werkzeug.wrappers import Response

from ..db import get_session
from ..domain import i18n
from ..models import Round
from ..services import actions, submission
from .forms import answers_from, field_name, survey_form_class

bp = Blueprint("employee", __name__, url_prefix="/s")


def _lang_param(lang: str) -> str | None:
    """Return the ``lang`` URL parameter for ``lang``: none for the default language."""
    return None if lang == i18n.DEFAULT else lang


def _language_links(languages: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Return (code, name, link) for this page in each language, carrying nothing else.

    The links are relative (``?lang=de``): the browser keeps the path, so the fallback link's
    token stays where it was, and drops everything else. They never name the token, so every
    unusable link still gets the very same page; the page's script adds a fragment token back.
    """
    return [(code, i18n.NAMES[code], f"?lang={code}") for code in languages]


def _page(
    template: str,
    lang: str,
    code: int = 200,
    languages: tuple[str, ...] = i18n.SUPPORTED,
    **context: Any,
) -> tuple[str, int]:
    """Render an employee page in ``lang`` with its language switch."""
    return (
        render_template(
            template,
            lang=lang,
            tr=partial(i18n.t, lang),
            languages=_language_links(languages) if len(languages) > 1 else [],
            **context,
        ),
        code,
    )


def _unusable(lang: str) -> tuple[str, int]:
    """Render the one page every unknown, used or malformed link gets."""
    return _page("employee/unusable.html", lang, 404)


def _not_open(lang: str, status: str) -> tuple[str, int]:
    """Render the page of a round that is not open yet, or no longer."""
    return _page("employee/not_open.html", lang, 410, status=status)


def _render(
    survey: submission.Survey, form: Any, lang: str, code: int = 200, message: str = ""
) -> tuple[str, int]:
    """Render the survey form, with the actions taken after the programme's earlier rounds."""
    rnd = survey.round
    return _page(
        "employee/form.html",
        lang,
        code,
        languages=tuple(code for code in survey.bank.languages if code in i18n.SUPPORTED),
        survey=survey,
        form=form,
        field_name=field_name,
        message=message,
        actions=actions.actions_for_next_rounds(get_session(), rnd.program_id, rnd.number),
    )


@bp.get("/<int:round_id>")
@bp.get("/<int:round_id>/<token>")
def show(round_id: int, token: str = "") -> tuple[str, int]:
    """Show the survey, with the token from the path in the form.

    The token is deliberately not looked up: if a GET told an unused link from a used one,
    whoever holds the links (an admin's mail-merge file, a mail scanner) could poll them to see
    who has answered, and when. Only the POST finds out, and consumes it.
    """
    lang = i18n.pick(request.args.get("lang"))
    session = get_session()
    try:
        survey = submission.survey_for(session, round_id)
    except submission.LinkUnusable:
        return _unusable(lang)
    except submission.RoundNotOpen as closed:
        return _not_open(lang, str(closed))
    form = survey_form_class(survey.items, lang)(formdata=None, token=token)
    return _render(survey, form, lang)


@bp.post("/<int:round_id>")
def answer(round_id: int) -> Response | tuple[str, int]:
    """Validate, seal and store the answers, consuming the link in the same transaction."""
    lang = i18n.pick(request.form.get("lang"))
    session = get_session()
    try:
        survey = submission.survey_for(session, round_id)
    except submission.LinkUnusable:
        return _unusable(lang)
    except submission.RoundNotOpen as closed:
        return _not_open(lang, str(closed))
    form = survey_form_class(survey.items, lang)()
    form.lang.data = lang
    if not form.validate_on_submit():
        count = sum(1 for errors in form.errors.values() if errors)
        message = (
            i18n.t(lang, "errors.one") if count == 1 else i18n.t(lang, "errors.other", count=count)
        )
        return _render(survey, form, lang, 400, message)
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
        form.token.errors = [i18n.t(lang, "token.invalid")]
        return _render(survey, form, lang, 400, i18n.t(lang, "errors.not_saved"))
    except OperationalError:
        session.rollback()
        return _render(survey, form, lang, 503, i18n.t(lang, "errors.busy"))
    return redirect(url_for("employee.thanks", round_id=round_id, lang=_lang_param(lang)), code=303)


@bp.get("/<int:round_id>/done")
def thanks(round_id: int) -> tuple[str, int]:
    """Thank the respondent; the page knows nothing about who they are.

    It shows what leadership did after the programme's earlier rounds, found from the round.
    """
    lang = i18n.pick(request.args.get("lang"))
    session = get_session()
    rnd = session.get(Round, round_id)
    shown = (
        actions.actions_for_next_rounds(session, rnd.program_id, rnd.number)
        if rnd is not None
        else []
    )
    return _page("employee/thanks.html", lang, round_id=round_id, actions=shown)
