"""Released manifests as every surface reads them: parsed once per process, never changed."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..domain.manifest import Manifest, parse
from ..kept import Kept
from ..models import Release, Round

# Parsed manifests kept per process (about 1-2 MB each for an organisation of 2,000 people).
_manifests: Kept[tuple[int, str], Manifest] = Kept(128)  # by ReleaseKey


# A release as kept: its id and the digest of its canonical JSON (fixed at release).
ReleaseKey = tuple[int, str]
# Read on every results request, so built once (building took longer than running it).
_KEYS = (
    select(Release.id, Release.digest)
    .join(Round, Release.round_id == Round.id)
    .order_by(Round.program_id, Round.number)
)
_PROGRAM_KEYS = _KEYS.where(Round.program_id == bindparam("program_id"))


def released_manifests(session: Session, program_id: int | None = None) -> list[Manifest]:
    """Return a programme's released manifests, oldest first, each parsed once per process."""
    return [manifest for _, manifest in released(session, program_id)]


def released(session: Session, program_id: int | None = None) -> list[tuple[ReleaseKey, Manifest]]:
    """Return a programme's released manifests with their keys, oldest first.

    Only release ids and digests are read on every call; a manifest is loaded (and its JSON
    decoded) the first time its (id, digest) is seen. The digest is that of the manifest's
    canonical JSON, recorded at release and never changed, so a kept manifest is exactly the
    stored one. The returned manifests are frozen and shared between requests.
    """
    conn = session.connection()  # plain rows: no ORM work on every results request
    if program_id is None:
        rows = conn.execute(_KEYS).all()
    else:
        rows = conn.execute(_PROGRAM_KEYS, {"program_id": program_id}).all()
    keys = [(int(rid), str(digest)) for rid, digest in rows]
    found = {key: kept for key in keys if (kept := _manifests.get(key)) is not None}
    digests = dict(keys)
    missing = [rid for rid, digest in keys if (rid, digest) not in found]
    if missing:
        load = select(Release.id, Release.manifest).where(Release.id.in_(missing))
        for rid, manifest in conn.execute(load):
            found[(rid, digests[rid])] = _manifests.put((rid, digests[rid]), parse(manifest))
    return [(key, found[key]) for key in keys]


_ROUND_KEY = select(Release.id, Release.digest).where(Release.round_id == bindparam("round_id"))


def released_manifest(session: Session, round_id: int) -> tuple[str, Manifest] | None:
    """Return a round's released manifest with its digest (parsed once per process, as by
    :func:`released`), or None if the round is not released."""
    conn = session.connection()
    row = conn.execute(_ROUND_KEY, {"round_id": round_id}).first()
    if row is None:
        return None
    key = (int(row.id), str(row.digest))
    load = select(Release.manifest).where(Release.id == key[0])
    return key[1], _manifests.get_or_make(key, lambda: parse(conn.execute(load).scalar_one()))
