"""Pages anyone may read: the front page and what Candor protects."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..db import get_session
from ..models import Program, Release, Role
from ..services import rounds

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
