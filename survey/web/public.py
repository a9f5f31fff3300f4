"""Pages anyone may read: the front page and what Candor protects."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..db import get_session
from ..models import Program, Release, Role, Round, RoundStatus
from ..services import ballotkeys, rounds

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> Response | str:
    """Send staff to their start page; show everyone else what Candor is."""
    user = g.get("user")
    if user is not None:
        target = "reports.index" if user.role is Role.LEADER else "dashboard.index"
        return redirect(url_for(target))
    return render_template("public/index.html")


@bp.get("/privacy")
def privacy() -> str:
    """Explain to employees what is protected, with each programme's thresholds and audits."""
    session = get_session()
    programs = list(session.scalars(select(Program).order_by(Program.id)))
    manifests = {p.id: rounds.released_manifests(session, p.id) for p in programs}
    return render_template("public/privacy.html", programs=programs, manifests=manifests)


@bp.get("/privacy/rounds/<int:round_id>")
def release_manifest(round_id: int) -> str:
    """Show employees one release's privacy manifest: what was published, what was hidden."""
    release = get_session().scalar(select(Release).where(Release.round_id == round_id))
    if release is None:
        abort(404)
    return render_template("public/release.html", manifest=release.manifest, digest=release.digest)


@bp.get("/privacy/rounds/<int:round_id>/keys")
def ballot_keys(round_id: int) -> str:
    """List a round's ballot keys, one per storage group, and every hand-out of its links.

    Anyone may compare the fingerprint their survey page showed with this list: a key that
    is not here, or more keys than groups, would mean someone is tagging ballots.
    """
    session = get_session()
    rnd = session.get(Round, round_id)
    if rnd is None or rnd.status is RoundStatus.DRAFT or rnd.snapshot is None:
        abort(404)
    units = rnd.snapshot["units"]
    keys = [
        (key, units.get(str(key.unit_id), {}).get("path", "?"))
        for key in ballotkeys.public_keys(session, round_id)
    ]
    return render_template(
        "public/keys.html",
        rnd=rnd,
        keys=keys,
        handed_out=rounds.links_handed_out(session, round_id),
    )
