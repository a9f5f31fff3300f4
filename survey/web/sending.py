"""A round's admin page: its links, and sending its invitations and reminders from the browser.

Sending runs in a background thread of the web worker under the same per-job lock and ledger
as ``candor mail`` and the tick (:mod:`survey.services.mailjobs`): a reload, a second click or a
second admin on another server starts nothing twice, and a send cut short (a restarted
server) is carried on by the next tick or the next click. The page reads its progress from
the ledger, as JSON for ``static/mailprogress.js`` and rendered in the page without
JavaScript (which then refreshes itself while a run is going).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from werkzeug.wrappers import Response

from ..clock import utcnow
from ..db import get_session
from ..domain.mail import MailError, MailKind
from ..models import Role, Round, RoundStatus
from ..services import audit_trail, mailer, mailjobs, transports
from ..services.mailjobs import MailProgress
from .forms import ActionForm
from .security import roles_required

bp = Blueprint("sending", __name__, url_prefix="/admin/rounds")

THREADS = "candor.mail_threads"  # app.extensions: the sending threads this process started
REFRESH_SECONDS = 5  # the page without JavaScript reloads itself this often while sending
WHAT = {MailKind.INVITATION: "invitations", MailKind.REMINDER: "reminders"}


def _round(round_id: int) -> Round:
    rnd = get_session().get(Round, round_id)
    if rnd is None:
        abort(404)
    return rnd


def _progress(rnd: Round) -> dict[MailKind, MailProgress]:
    engine = current_app.extensions["candor.engine"]
    return {
        kind: mailjobs.progress(
            get_session(), engine, rnd.id, kind, lock_dir=current_app.instance_path
        )
        for kind in MailKind
    }


def _links_sentence(rnd: Round) -> str:
    """Say truthfully how many personal links exist and what can still be done with them."""
    invited = len(rnd.snapshot["people"]) if rnd.snapshot else 0
    if rnd.status is RoundStatus.DRAFT:
        return "No links yet: one is made for each person on the roster when the round opens."
    if rnd.status is not RoundStatus.OPEN:
        return (
            f"{invited} people were invited. The round is {rnd.status.value}: "
            "its links no longer work."
        )
    if rnd.wrapped_token_secret is None:
        return (
            f"{invited} personal links exist, one per invited person. Strict mode: the link "
            "secret is destroyed, so no link can be sent or exported again."
        )
    return (
        f"{invited} personal links exist, one per invited person. Nobody receives one until "
        "it is emailed from here (or by the command line) or exported for a mail merge."
    )


def _can_send(rnd: Round, kind: MailKind, found: MailProgress) -> bool:
    """Return whether the send button of ``kind`` does anything now."""
    if rnd.status is not RoundStatus.OPEN or found.running:
        return False
    if kind is MailKind.INVITATION and rnd.wrapped_token_secret is None:
        return False  # strict: every invitation is out, and no link can be made again
    return not found.done


def _state(found: MailProgress) -> str:
    """Say in one sentence where sending stands."""
    what = WHAT[found.kind]
    if found.running:
        return f"Sending the {what} now."
    if found.stopped:
        return (
            f"The last run stopped: {found.stopped} Nothing was sent twice; once this is "
            "fixed, send again to carry on."
        )
    if found.interrupted:
        return (
            "The last run was cut short (the server stopped). The next tick carries it on, "
            "or send again now."
        )
    if found.done:
        return f"All {what} are out."
    if found.total == 0:
        return f"No {what} sent yet."
    return (
        f"Not running. {found.failed} failed addresses are tried again by the next run, "
        f"up to {mailer.MAX_ATTEMPTS} attempts in all."
    )


def _kind_status(rnd: Round, found: MailProgress) -> dict[str, Any]:
    return {
        "total": found.total,
        "sent": found.sent,
        "failed": found.failed,
        "given_up": found.given_up,
        "waiting": found.waiting,
        "running": found.running,
        "done": found.done,
        "can_send": _can_send(rnd, found.kind, found),
        "counts": (
            f"{found.sent} of {found.total} sent, {found.failed} failed (to retry), "
            f"{found.given_up} given up, {found.waiting} waiting."
            if found.total
            else ("Listing everyone invited." if found.running else "None sent.")
        ),
        "state": _state(found),
    }


def _status(rnd: Round) -> dict[str, Any]:
    kinds = {kind.value: _kind_status(rnd, found) for kind, found in _progress(rnd).items()}
    return {
        "round": rnd.id,
        "links": _links_sentence(rnd),
        "polling": any(k["running"] for k in kinds.values()),
        "kinds": kinds,
    }


@bp.get("/<int:round_id>")
@roles_required(Role.ADMIN)
def round_page(round_id: int) -> str:
    """Show a round's links and the progress of its invitations and reminders."""
    rnd = _round(round_id)
    status = _status(rnd)
    return render_template(
        "admin/round.html",
        rnd=rnd,
        status=status,
        kinds=[(kind, WHAT[kind], status["kinds"][kind.value]) for kind in MailKind],
        refresh_seconds=REFRESH_SECONDS,
        max_attempts=mailer.MAX_ATTEMPTS,
    )


@bp.get("/<int:round_id>/mail.json")
@roles_required(Role.ADMIN)
def mail_status(round_id: int) -> Response:
    """Return the progress of a round's sending, in counts only, for the page to follow."""
    return jsonify(_status(_round(round_id)))


@bp.post("/<int:round_id>/mail/<kind>")
@roles_required(Role.ADMIN)
def send(round_id: int, kind: str) -> Response:
    """Start sending a round's invitations or reminders now, unless a run is at it already."""
    try:
        which = MailKind(kind)
    except ValueError:
        abort(404)
    rnd = _round(round_id)
    back = redirect(url_for("sending.round_page", round_id=round_id), code=303)
    if not ActionForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
        return back
    if rnd.status is not RoundStatus.OPEN:
        flash(
            f"Nothing started: {rnd.label} is {rnd.status.value}; invitations and reminders "
            "are sent only while a round is open.",
            "error",
        )
        return back
    found = _progress(rnd)[which]
    if not _can_send(rnd, which, found):
        flash(f"Nothing started: {_state(found)}", "error" if not found.running else "info")
        return back
    try:
        transports.mailer_from_config(current_app.config)  # says what to set, before starting
    except MailError as exc:
        flash(f"Nothing started: {exc}", "error")
        return back
    session = get_session()
    audit_trail.record(session, g.user.email, f"mail_{which.value}", f"round={rnd.id}", utcnow())
    session.commit()
    threads = current_app.extensions.setdefault(THREADS, [])
    threads[:] = [t for t in threads if t.is_alive()]
    threads.append(
        mailjobs.send_in_background(
            current_app.config,
            current_app.instance_path,
            current_app.extensions["candor.sessionmaker"],
            rnd.id,
            which,
            current_app.extensions["candor.kek"],
        )
    )
    flash(
        f"Sending the {WHAT[which]} of {rnd.label}. This page follows the progress; you may "
        "leave it, and sending goes on.",
        "info",
    )
    return back
