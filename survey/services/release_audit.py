"""Re-checking a stored release: its digest, and that no small group can be derived from it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..domain import manifest as manifests
from ..domain.release import digest, reaudit, refused_across, verify
from ..models import Release
from . import rounds


def audit_release(session: Session, release: Release) -> str:
    """Return a one-line verdict on a stored release (``PASS ...`` or ``FAIL ...``)."""
    if digest(release.manifest) != release.digest:
        return "FAIL: the manifest no longer matches the digest recorded at release."
    manifest = manifests.parse(release.manifest)
    counts = rounds.atom_counts(session, release.round_id)
    # Recorded at release (see services/retention.py), so a shredded round is still re-audited.
    stored = {str(atom): int(n) for atom, n in (release.atom_counts or {}).items()}
    if counts and stored and counts != stored:
        return "FAIL: the stored answers no longer match the counts recorded at release."
    source = "" if counts else ", from the counts recorded at release"
    counts = counts or stored
    snapshot = release.round.snapshot or {}
    if counts:
        result = verify(manifest, snapshot, counts)
        basis = f"exact re-audit over {result.atoms} atoms ({manifest.audit.mode} mode{source})"
    else:  # answers were shredded: audit what the manifest itself implies
        result = reaudit(manifest)
        basis = "re-audit of the published unit counts (raw answers no longer stored)"
    if not result.ok:
        leak = result.leaks[0] if result.leaks else None
        size = leak.total if leak else "unknown size"
        return f"FAIL: a group of {size} people is derivable ({basis})."
    earlier = rounds.history_before(session, release)
    # Shredded before their counts were kept: this release was built knowing them, and a
    # re-check without them would refuse every cell over their people.
    unknown = sum(1 for e in earlier if e.respondents is None)
    refused = refused_across(snapshot, manifest, counts, earlier) if counts and not unknown else []
    if refused:
        return (
            f"FAIL: with the {len(earlier)} release(s) made before it, {len(refused)} of its "
            f"exact cells (the first: {_named(manifest, refused[0])}) could be differenced "
            f"into a group of fewer than {max(manifest.k, *(e.k for e in earlier))} people. "
            "It was made without checking against all of them (before Candor checked "
            "releases across programmes and out of order)."
        )
    across = f"; checked against the {len(earlier)} release(s) made before it" if earlier else ""
    if unknown:
        across = (
            f"; not re-checked against the releases made before it ({unknown} of them no "
            "longer know their respondents)"
        )
    shown = sum(1 for u in manifest.units if u.shown)
    attrs = sum(1 for c in manifest.attributes.cells if c.shown)
    return (
        f"PASS: {manifest.round.label} of {manifest.round.program}: {shown} of "
        f"{len(manifest.units)} units and {attrs} attribute cells published; digest intact; "
        f"{basis}: no group of 1..{manifest.k - 1} people can be derived{across}."
    )


def _named(manifest: manifests.Manifest, cell: manifests.CellDefinition) -> str:
    """Name a published cell for the operator: its unit's path, and its band if any."""
    unit = manifest.unit(cell.unit)
    path = unit.path if unit else f"unit {cell.unit}"
    return f"{path}, {cell.band}" if cell.band else path
