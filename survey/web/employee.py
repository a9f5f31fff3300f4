"""The employee survey: check-in and ballot, as two unlinkable requests.

Nothing on these routes logs, stores or echoes who is answering. The page's script
(``static/ballot.js``) takes the access code from the link's fragment (never sent to a
server), checks in with a *blinded* message at the person's first answer, and later posts the
answers with the unblinded signature to the ballot endpoint without cookies. Without
JavaScript the form posts to :func:`answer`, which does both steps on the server, committing
in between; the page says that this is weaker. GET never consumes a link.

Every page speaks the language in ``?lang=`` (a hidden field on the POST), English otherwise.
The choice lives only in the URL and the form: no cookie, session or stored row carries it.

Nothing typed is lost to a failure. A database that is down, restarting or locked gets 503 with
``Retry-After``: the JSON steps say "busy" (the browser keeps everything and retries), and the
form comes back with every answer, from the page this process last showed for the round
(:mod:`.survey_page`), or, if it showed none, as a page that holds the answers in hidden fields
to send again. A form whose CSRF check fails (the session cookie expired or was
dropped) comes back with its answers too: the one-time code already protects this form.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError
from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from ..clock import utcnow
from ..db import UNAVAILABLE, abandon_session, get_session
from ..domain import i18n
from ..models import Round
from ..services import actions, mixing, submission
from . import RETRY_AFTER_SECONDS, survey_page
from . import survey_render as pages
from .forms import answers_from, survey_form_class

bp = Blueprint("employee", __name__, url_prefix="/s")
log = logging.getLogger(__name__)
# The JSON endpoints are authenticated by the one-time code or the blind signature, never by
# cookies, so they are exempt from CSRF (see survey.web.register).
CSRF_EXEMPT = ("check_in", "ballot")
JSON_ENDPOINTS = ("employee.check_in", "employee.ballot", "employee.ballot_key")


def _form_again(
    round_id: int,
    lang: str,
    code: int,
    message: str,
    credential: submission.Credential | None = None,
    form: Any = None,
) -> tuple[str, int]:
    """Show the posted survey form again with every answer, ``message`` and ``credential``.

    Without a survey page to build the form from (the database is unavailable and this
    process never showed the round), answer with a page that keeps the posted fields hidden,
    to be sent again as they are.
    """
    survey = survey_page.again(round_id)
    if survey is None:
        return _answers_kept(lang, code, message)
    if form is None:
        form = survey_form_class(survey.items, lang)()
    form.lang.data = lang
    return pages.render(survey, form, lang, code, message, _credential_fields(credential))


def _answers_kept(lang: str, code: int, message: str) -> tuple[str, int]:
    """Render the page that holds a posted form's fields, to send them again unchanged."""
    kept = [(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"]
    return pages.page(
        "errors/survey_unavailable.html", lang, code, message=message, kept=kept, posted=True
    )


def _credential_fields(credential: submission.Credential | None) -> dict[str, str]:
    """Return the hidden fields that carry a server-made credential to the next attempt."""
    if credential is None:
        return {}
    return {
        "ballot_key": str(credential.key_id),
        "ballot_message": _b64(credential.message),
        "ballot_signature": _b64(credential.signature),
    }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: Any) -> bytes:
    """Decode base64url without padding; raise ValueError for anything else."""
    if not isinstance(text, str) or len(text) > 2048:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def _busy(payload: dict[str, Any] | None = None) -> tuple[Response, int]:
    """Answer a JSON request that the database could not serve: 503 with Retry-After."""
    reply = jsonify(payload or {"status": "busy"})
    reply.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return reply, 503


def _database_unavailable(_error: Exception) -> tuple[Response | str, int]:
    """Answer any survey request that met a database which is down, restarting or locked,
    wherever that happened (loading a staff session, the first query, a commit): 503, with
    the form's answers kept."""
    survey_page.database_gone()
    round_id = int((request.view_args or {}).get("round_id", 0))
    if request.endpoint in JSON_ENDPOINTS:
        return _busy()
    if request.endpoint == "employee.answer":
        lang = i18n.pick(request.form.get("lang"))
        busy = i18n.t(lang, "errors.busy")
        return _form_again(round_id, lang, 503, busy, _posted_credential())
    lang = i18n.pick(request.args.get("lang"))
    if request.endpoint == "employee.thanks":  # the answer is in: thank, without the extras
        return pages.page("employee/thanks.html", lang, round_id=round_id, actions=[])
    survey = survey_page.kept(round_id)
    message = i18n.t(lang, "errors.unavailable")
    if request.endpoint == "employee.show" and survey is not None:
        token = str((request.view_args or {}).get("token", ""))
        form = survey_form_class(survey.items, lang)(formdata=None, token=token)
        return pages.render(survey, form, lang, 503, message)
    return pages.page(
        "errors/survey_unavailable.html", lang, 503, message=message, kept=[], posted=False
    )


for _unavailable in UNAVAILABLE:
    bp.register_error_handler(_unavailable, _database_unavailable)


@bp.errorhandler(CSRFError)
def _csrf_failed(_error: CSRFError) -> tuple[str, int]:
    """Show the survey form again with its answers when its CSRF check fails.

    The cookie that holds the CSRF secret may have expired or been dropped; the one-time code
    (or the credential) is what protects this form, and the page comes with a fresh token, so
    sending again works.
    """
    lang = i18n.pick(request.form.get("lang"))
    round_id = int((request.view_args or {}).get("round_id", 0))
    return _form_again(round_id, lang, 400, i18n.t(lang, "errors.expired"), _posted_credential())


@bp.after_request
def _retry_after(response: Response) -> Response:
    """Tell clients when to try again whenever a survey route answers 503."""
    if response.status_code == 503:
        response.headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    return response


def _mix_is_due(round_id: int) -> bool:
    """Return whether the round's inbox is due to be mixed, asked inside the ballot's own
    transaction (so that a ballot which starts no mix starts no second transaction)."""
    return mixing.mix_due(get_session(), round_id, utcnow())


def _mix(round_id: int) -> None:
    """After a ballot is committed, mix the round's inbox (if still due); never fail the ballot."""
    session = get_session()
    try:
        moved = mixing.mix_if_due(session, round_id, utcnow())
        session.commit()
        if moved:
            mixing.scrub(current_app.extensions["candor.engine"], mixing.MIXED_TABLES)
    except SQLAlchemyError:
        abandon_session()
        log.warning("mixing the ballot inbox failed; the next ballot or tick retries")


@bp.get("/<int:round_id>")
@bp.get("/<int:round_id>/<token>")
def show(round_id: int, token: str = "") -> tuple[str, int]:
    """Show the survey, with a code from a legacy path link in the form.

    The code is deliberately not looked up: if a GET told an unused link from a used one,
    whoever holds the links could poll them to see who has answered, and when.
    """
    lang = i18n.pick(request.args.get("lang"))
    try:
        survey = survey_page.read(round_id)
    except submission.LinkUnusable:
        return pages.unusable(lang)
    except submission.RoundNotOpen as closed:
        return pages.not_open(lang, str(closed))
    if not token and pages.anonymous():
        return pages.blank_page(survey, lang), 200
    form = survey_form_class(survey.items, lang)(formdata=None, token=token)
    return pages.render(survey, form, lang, questions=pages.blank_questions(survey, form, lang))


@bp.get("/<int:round_id>/keys/<int:key_id>")
def ballot_key(round_id: int, key_id: int) -> Response | tuple[Response, int]:
    """Return one public ballot key of a round (every key is public: see /privacy).

    The keys of a round this process has read them for while it was open come from its copy
    (see :func:`survey_page.ballot_key`); the check-in that follows says if it has closed.
    """
    try:
        key = survey_page.ballot_key(round_id, key_id)
    except submission.RoundNotOpen:
        return jsonify({"status": "closed"}), 410
    except submission.LinkUnusable:
        key = None
    except UNAVAILABLE:
        survey_page.database_gone()
        return _busy()
    if key is None:
        return jsonify({"status": "unknown"}), 404
    return jsonify(survey_page.shown_key(key))


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@bp.post("/<int:round_id>/checkin")
def check_in(round_id: int) -> tuple[Response, int]:
    """Consume an invitation and return a blind signature for the message the browser blinded."""
    body = _json_body()
    session = get_session()
    try:
        survey = submission.survey_for(session, round_id, answering=True)
        blinded = _unb64(body.get("blinded"))
        key_id, signed = submission.check_in(
            session,
            survey,
            str(body.get("code", "")).strip(),
            blinded,
            current_app.extensions["candor.kek"],
        )
        session.commit()
    except (submission.LinkUnusable, ValueError):
        session.rollback()
        return jsonify({"status": "unusable"}), 404
    except submission.RoundNotOpen:
        return jsonify({"status": "closed"}), 410
    except UNAVAILABLE:
        survey_page.database_gone()
        return _busy()
    return jsonify({"status": "signed", "key_id": key_id, "blind_signature": _b64(signed)}), 200


@bp.post("/<int:round_id>/ballot")
def ballot(round_id: int) -> tuple[Response, int]:
    """Accept answers with an unblinded credential; posted without cookies."""
    body = _json_body()
    lang = i18n.pick(body.get("lang") if isinstance(body.get("lang"), str) else None)
    session = get_session()
    try:
        survey = submission.survey_for(session, round_id, answering=True)
        raw_answers = body.get("answers")
        answers = submission.parse_answers(
            survey.items, raw_answers if isinstance(raw_answers, dict) else {}
        )
        comment = body.get("comment", "")
        if not isinstance(comment, str) or len(comment) > submission.COMMENT_MAX_CHARS:
            raise submission.InvalidAnswers({"comment": "too_long"})
        credential = submission.Credential(
            int(body.get("key_id", -1)), _unb64(body.get("message")), _unb64(body.get("signature"))
        )
        new = submission.cast_ballot(session, survey, credential, answers, comment)
        due = new and _mix_is_due(round_id)
        session.commit()
    except submission.InvalidAnswers as invalid:
        return jsonify({"status": "invalid", "errors": invalid.errors}), 400
    except (submission.BallotRefused, ValueError, TypeError):
        session.rollback()
        return jsonify({"status": "refused"}), 403
    except submission.LinkUnusable:
        return jsonify({"status": "unknown"}), 404
    except submission.RoundNotOpen:
        return jsonify({"status": "closed"}), 410
    except UNAVAILABLE:
        survey_page.database_gone()
        return _busy()
    if due:
        _mix(round_id)
    thanks = url_for("employee.thanks", round_id=round_id, lang=pages.lang_param(lang))
    return jsonify({"status": "recorded" if new else "already recorded", "next": thanks}), 200


def _posted_credential() -> submission.Credential | None:
    """Return a credential the server made on an earlier attempt of this form, if any."""
    fields = ("ballot_key", "ballot_message", "ballot_signature")
    if not all(request.form.get(name) for name in fields):
        return None
    try:
        return submission.Credential(
            int(request.form["ballot_key"]),
            _unb64(request.form["ballot_message"]),
            _unb64(request.form["ballot_signature"]),
        )
    except ValueError:
        return None


@bp.post("/<int:round_id>")
def answer(round_id: int) -> Response | tuple[str, int]:
    """The no-JavaScript path: check in on the person's behalf, commit, then cast the ballot.

    If the ballot fails after the check-in was committed, the page comes back with every
    answer and the credential in hidden fields, so sending again needs no second check-in.
    """
    lang = i18n.pick(request.form.get("lang"))
    session = get_session()
    try:
        survey = submission.survey_for(session, round_id, answering=True)
    except submission.LinkUnusable:
        return pages.unusable(lang)
    except submission.RoundNotOpen as closed:
        return pages.not_open(lang, str(closed))
    form = survey_form_class(survey.items, lang)()
    form.lang.data = lang
    credential = _posted_credential()
    if survey.round.unlinkable_required and credential is None:
        message = i18n.t(lang, "ballot.nojs_refused")
        return _form_again(round_id, lang, 400, message, form=form)
    if credential is not None:
        form.token.validators = []  # the credential replaces the code
    if not form.validate_on_submit():
        count = sum(1 for errors in form.errors.values() if errors)
        message = (
            i18n.t(lang, "errors.one") if count == 1 else i18n.t(lang, "errors.other", count=count)
        )
        return _form_again(round_id, lang, 400, message, credential, form)
    try:
        if credential is None:
            credential = submission.server_credential(
                session, survey, form.token.data.strip(), current_app.extensions["candor.kek"]
            )
            session.commit()
    except submission.LinkUnusable:
        session.rollback()
        form.token.errors = [i18n.t(lang, "token.invalid")]
        return _form_again(round_id, lang, 400, i18n.t(lang, "errors.not_saved"), form=form)
    except UNAVAILABLE:
        survey_page.database_gone()
        return _form_again(round_id, lang, 503, i18n.t(lang, "errors.busy"), form=form)
    try:
        # The ballot's own transaction holds the round open too (the check-in's has ended).
        survey = submission.survey_for(session, round_id, answering=True)
        new = submission.cast_ballot(
            session, survey, credential, answers_from(form, survey.items), form.comment.data or ""
        )
        due = new and _mix_is_due(round_id)
        session.commit()
    except (submission.RoundNotOpen, submission.LinkUnusable) as closed:
        session.rollback()
        return pages.not_open(lang, str(closed) or "closed")
    except submission.BallotRefused:
        session.rollback()
        return _form_again(round_id, lang, 400, i18n.t(lang, "errors.not_saved"), form=form)
    except SQLAlchemyError:
        # The check-in is committed: keep the credential in the page so sending again works.
        survey_page.database_gone()
        busy = i18n.t(lang, "errors.busy")
        return _form_again(round_id, lang, 503, busy, credential, form)
    if due:
        _mix(round_id)
    return redirect(
        url_for("employee.thanks", round_id=round_id, lang=pages.lang_param(lang)), code=303
    )


# Which programme a round belongs to, and its number there: built once (every thanks page).
_PROGRAMME_PLACE = select(Round.program_id, Round.number).where(Round.id == bindparam("round_id"))


@bp.get("/<int:round_id>/done")
def thanks(round_id: int) -> tuple[str, int]:
    """Thank the respondent; the page knows nothing about who they are.

    It shows what leadership did after the programme's earlier rounds, found from the round.
    """
    lang = i18n.pick(request.args.get("lang"))
    session = get_session(reads_only=True)
    rnd = session.connection().execute(_PROGRAMME_PLACE, {"round_id": round_id}).first()
    shown = tuple(actions.actions_for_next_rounds(session, *rnd) if rnd is not None else ())
    return pages.thanks(round_id, lang, shown)
