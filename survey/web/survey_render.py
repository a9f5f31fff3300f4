"""How the employee pages are rendered, and those rendered once per process.

A page that is the same for every visitor (no staff session, whose menu names the account; no
message waiting to be shown once; no code in the path) is rendered once per process and what
it shows, and kept: the blank survey form (split around its CSRF token, so each visitor still
gets their own), its questions, and the thanks page. An open round's questions are frozen, and
the key of each kept page holds everything else the page shows. Nothing kept says anything
about who is answering.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import partial
from typing import Any

from flask import current_app, g, render_template
from flask import session as cookie_session
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from ..domain import i18n
from ..domain.questions import estimated_minutes
from ..kept import Kept
from ..services import actions, submission
from . import survey_page
from .forms import field_name, survey_form_class


def lang_param(lang: str) -> str | None:
    """Return the ``lang`` URL parameter for ``lang``: none for the default language."""
    return None if lang == i18n.DEFAULT else lang


def _language_links(languages: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Return (code, name, link) for this page in each language, carrying nothing else.

    The links are relative (``?lang=de``): the browser keeps the path and drops everything
    else; the page's script adds the code back in the fragment.
    """
    return [(code, i18n.NAMES[code], f"?lang={code}") for code in languages]


def page(
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


def unusable(lang: str) -> tuple[str, int]:
    """Render the one page every unknown, used or malformed link gets."""
    return page("employee/unusable.html", lang, 404)


def not_open(lang: str, status: str) -> tuple[str, int]:
    """Render the page of a round that is not open yet, or no longer."""
    return page("employee/not_open.html", lang, 410, status=status)


def render(
    survey: survey_page.SurveyPage,
    form: Any,
    lang: str,
    code: int = 200,
    message: str = "",
    credential: dict[str, str] | None = None,
    questions: Markup | None = None,
) -> tuple[str, int]:
    """Render the survey form, with the actions taken after the programme's earlier rounds.

    Reads nothing from the database: everything comes from ``survey``. ``questions`` is the
    questions' HTML when it is already known (a form nobody has filled in: see
    :func:`blank_questions`); ``credential``, the hidden fields that carry a credential the
    server made on an earlier attempt.
    """
    return page(
        "employee/form.html",
        lang,
        code,
        languages=tuple(code for code in survey.bank.languages if code in i18n.SUPPORTED),
        survey=survey,
        form=form,
        field_name=field_name,
        minutes=estimated_minutes(survey.items),
        message=message,
        actions=survey.actions,
        handed_out=survey.handed_out,
        unlinkable_required=survey.unlinkable_required,
        code_pattern=submission.TOKEN_PATTERN.pattern,  # the scripts test codes with it
        credential=credential or {},
        questions=questions,
    )


# Where each process keeps the questions' HTML of a blank form, per round and language, and
# how many it keeps. A blank form is the same for every invited person (no answer, no code, no
# token: those sit outside the questions), and an open round's questions are frozen.
BLANK_QUESTIONS = "candor.blank_questions"
KEPT_PER_PROCESS = 128


def blank_questions(survey: survey_page.SurveyPage, form: Any, lang: str) -> Markup:
    """Return the questions' HTML of a form nobody has filled in, rendered once per process."""
    key = (survey.round.id, lang, tuple(item.key for item in survey.items))
    html: Markup = _kept(BLANK_QUESTIONS).get_or_make(
        key,
        lambda: Markup(  # noqa: S704 - the output of an autoescaping template
            render_template(
                "employee/_questions.html",
                survey=survey,
                form=form,
                lang=lang,
                tr=partial(i18n.t, lang),
                field_name=field_name,
            )
        ),
    )
    return html


# Where each process keeps the whole page of a blank form, per round, language and what the
# page shows around the questions (actions, link hand-outs, mode), split around its CSRF token:
# the same for every visitor who is not signed in as staff, apart from that token.
BLANK_PAGES = "candor.blank_pages"
# And the thanks page, per round, language and the actions it shows.
THANKS_PAGES = "candor.thanks_pages"


def blank_page(survey: survey_page.SurveyPage, lang: str) -> str:
    """Return the survey page of a visitor without a staff session, flash or path code.

    Rendered once per process and page content; each visitor gets their own CSRF token.
    """
    kept = _kept(BLANK_PAGES)
    key = (survey.round, lang, survey.actions, survey.handed_out, survey.unlinkable_required)
    parts: tuple[str, ...] | None = kept.get(key)
    if parts is None:
        form = survey_form_class(survey.items, lang)(formdata=None)
        html, _ = render(survey, form, lang, questions=blank_questions(survey, form, lang))
        token = getattr(getattr(form, "csrf_token", None), "current_token", None)
        parts = tuple(html.split(token)) if token else (html,)
        if len(parts) > 2:  # the token also appears elsewhere: do not keep this page
            return html
        kept.put(key, parts)
    return generate_csrf().join(parts) if len(parts) == 2 else parts[0]


def thanks(round_id: int, lang: str, shown: tuple[actions.ShownAction, ...]) -> tuple[str, int]:
    """Render the thanks page; for a visitor without a staff session, once per process,
    round, language and actions shown."""
    if not anonymous():
        return page("employee/thanks.html", lang, round_id=round_id, actions=shown)
    html: str = _kept(THANKS_PAGES).get_or_make(
        (round_id, lang, shown),
        lambda: page("employee/thanks.html", lang, round_id=round_id, actions=shown)[0],
    )
    return html, 200


def _kept(name: str) -> Kept[Hashable, Any]:
    """Return this app's pages kept under ``name`` (per app: each app starts with none)."""
    found: Kept[Hashable, Any] | None = current_app.extensions.get(name)
    if found is None:
        found = current_app.extensions.setdefault(name, Kept(KEPT_PER_PROCESS))
    return found


def anonymous() -> bool:
    """Return whether this page is the same for every visitor: no staff session (the menu
    names the account) and no message waiting to be shown once."""
    return g.get("user") is None and not cookie_session.get("_flashes")
