"""The custody page: custodians enter their passphrases in turn to release a round.

Each custodian picks their name and types their passphrase; the page shows only who has
entered theirs, never anything of a share. Shares wait wrapped, for a limited time (see
:mod:`survey.services.custody`); the entry that completes the quorum releases the round, and
the waiting shares are wiped then, at abandon, or when their time runs out.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import PasswordField, SelectField
from wtforms.validators import InputRequired

from ..clock import utcnow
from ..db import get_session
from ..domain.custody import Share
from ..models import Role, Round, RoundStatus
from ..services import audit_trail, custody, hygiene, rounds
from .forms import ActionForm
from .security import roles_required

bp = Blueprint("custody", __name__, url_prefix="/admin/custody")
ABANDONED = "custody_abandoned"  # the audit trail's action when pending shares are wiped


class PassphraseForm(FlaskForm):  # type: ignore[misc]
    """One custodian's entry: who they are, and their passphrase (never shown again)."""

    custodian = SelectField("Custodian", validators=[InputRequired()])
    passphrase = PasswordField("Passphrase", validators=[InputRequired()])


def _round(session: Session, round_id: int) -> Round:
    rnd = session.get(Round, round_id)
    if rnd is None:
        abort(404)
    return rnd


@bp.route("/rounds/<int:round_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.HR)
def round_page(round_id: int) -> Response | str | tuple[str, int]:
    """Show who has entered a passphrase for a round's release; take the next one."""
    session = get_session()
    rnd = _round(session, round_id)
    kek: bytes = current_app.extensions["candor.kek"]
    now = utcnow()
    waiting = custody.pending(session, rnd, kek, now)
    session.commit()  # expired shares are gone for good
    holders = custody.holders(session, round_id)
    form = PassphraseForm()
    form.custodian.choices = [(h.label, h.name) for h in holders if h.id not in waiting]
    status = 200
    quorum = custody.quorum_of(session, round_id)
    if quorum and rnd.status is RoundStatus.CLOSED and form.validate_on_submit():
        try:
            holder, share = custody.open_share(
                session, rnd, form.custodian.data, form.passphrase.data
            )
        except custody.CustodyError as exc:
            form.passphrase.errors.append(str(exc))
            status = 400
        else:
            custody.hold(session, rnd, holder, share, kek, now)
            audit_trail.record(
                session,
                g.user.email,
                "custody_share_entered",
                f"round={rnd.id} by={holder.label}",
                now,
            )
            session.commit()
            waiting[holder.id] = share
            if len(waiting) < quorum:
                flash(f"{holder.name}'s passphrase is in. Next custodian, please.", "info")
                return redirect(url_for("custody.round_page", round_id=round_id))
            return _release(session, rnd, kek, list(waiting.values()))
    elif form.is_submitted():
        status = 400
    return render_template(
        "custody/round.html",
        rnd=rnd,
        form=form,
        holders=holders,
        entered={h.id for h in holders if h.id in waiting},
        quorum=quorum,
        minutes=custody.PENDING_MINUTES,
        abandon=ActionForm(),
    ), status


def _release(session: Session, rnd: Round, kek: bytes, shares: list[Share]) -> Response:
    """Release the round with the quorum's shares, then wipe the shares that waited."""
    try:
        message = rounds.advance(session, rnd, "release", kek, utcnow().date(), shares=shares)
        custody.wipe_pending(session, rnd.id)
        audit_trail.record(session, g.user.email, "round_release", f"round={rnd.id}", utcnow())
        session.commit()
    except rounds.REFUSALS as exc:
        session.rollback()
        flash(f"Nothing was released: {exc}", "error")
        return redirect(url_for("custody.round_page", round_id=rnd.id))
    hygiene.scrub_storage(current_app.extensions["candor.engine"])
    flash(message, "info")
    return redirect(url_for("admin.index"))


@bp.post("/rounds/<int:round_id>/abandon")
@roles_required(Role.ADMIN, Role.HR)
def abandon(round_id: int) -> Response:
    """Wipe the passphrases entered so far for a round's release (nothing else changes)."""
    session = get_session()
    rnd = _round(session, round_id)
    if ActionForm().validate_on_submit():
        gone = custody.wipe_pending(session, rnd.id)
        audit_trail.record(session, g.user.email, ABANDONED, f"round={rnd.id}", utcnow())
        session.commit()
        hygiene.scrub_storage(current_app.extensions["candor.engine"])
        flash(f"The release was abandoned; {gone} entered share(s) were wiped.", "info")
    return redirect(url_for("custody.round_page", round_id=round_id))
