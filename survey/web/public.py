"""Pages anyone may read: the front page and what Candor protects."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from ..db import get_session
from ..domain import access, disclosure, noise, reporting
from ..domain.manifest import Manifest
from ..models import Program, Round, RoundStatus
from ..services import audit_trail, ballotkeys, manifests, retention

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> Response | str:
    """Send staff to their start page; show everyone else what Candor is."""
    user = g.get("user")
    if user is not None:
        return redirect(url_for(access.START_PAGES[user.role]))
    return render_template("public/index.html")


_ROUNDS = selectinload(Program.rounds).defer(Round.items)


@bp.get("/privacy")
def privacy() -> str:
    """Explain to employees what is protected, with each programme's thresholds and audits."""
    session = get_session()
    # Every round in one query, without its frozen questions (the page shows none of them).
    programs = list(session.scalars(select(Program).order_by(Program.id).options(_ROUNDS)))
    released = {p.id: manifests.released_manifests(session, p.id) for p in programs}
    sealed = {r.id: retention.privacy_note(session, r) for p in programs for r in p.rounds}
    return render_template(
        "public/privacy.html",
        programs=programs,
        manifests=released,
        sealed=sealed,
        groups={m.round.id: _groups(m) for each in released.values() for m in each},
        dp_spent={p.id: noise.spent(released[p.id]) for p in programs},
        dp_min_n=noise.DP_MIN_N,
        coarse_factor=disclosure.CHURN_FACTOR,
    )


def _groups(manifest: Manifest) -> tuple[int, int]:
    """Return how many groups a release published and hid (counted here: a template filter
    chain over every unit of every release took most of the privacy page's time)."""
    shown = sum(1 for unit in manifest.units if unit.shown)
    return shown, len(manifest.units) - shown


@bp.get("/privacy/rounds/<int:round_id>")
def release_manifest(round_id: int) -> str:
    """Show employees one release's privacy manifest: what was published, what was hidden."""
    found = manifests.released_manifest(get_session(), round_id)
    if found is None:
        abort(404)
    digest, manifest = found
    return render_template(
        "public/release.html",
        manifest=manifest,
        digest=digest,
        attribute_cells=sorted(
            manifest.attributes.cells, key=lambda c: (c.path, reporting.band_key(c.band))
        ),
    )


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
        handed_out=audit_trail.links_handed_out(session, round_id),
    )
