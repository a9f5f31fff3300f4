"""The one place that decides which released results a staff member sees.

Every results surface (dashboard pages, reports, charts, CSV, PDF) gets its manifests from
:func:`released_for`, already cut to the reader's scope by :mod:`survey.domain.scope`: a unit
outside it is simply not there, so a chart URL, an export or a page for it finds nothing (404).
Which *pages* a role may open is the policy table (:mod:`survey.domain.access`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import scope as rules
from ..domain.manifest import Manifest
from ..models import ManagerUnit, Role, User
from .manifests import released_manifests


@dataclass(frozen=True)
class ScopedManifests:
    """A programme's released manifests as one reader may see them, oldest first.

    ``scopes`` gives, per manifest, the units kept; ``broader`` the units shown only as the
    nearest published broader team of a manager's hidden unit, in any round.
    """

    manifests: list[Manifest]
    scopes: tuple[rules.RoundScope, ...]
    report_depth: int | None = rules.LEADERSHIP_MAX_DEPTH

    @property
    def broader(self) -> frozenset[int]:
        """Return the units shown as a broader team in at least one round."""
        return frozenset().union(*(s.broader for s in self.scopes))

    @property
    def organisation(self) -> bool:
        """Return whether the reader sees the organisation in every round they see."""
        return all(s.organisation for s in self.scopes)


def bound_units(session: Session, user: User) -> frozenset[int]:
    """Return the units a manager is bound to (none for other roles)."""
    if user.role is not Role.MANAGER:
        return frozenset()
    return frozenset(
        session.scalars(select(ManagerUnit.unit_id).where(ManagerUnit.user_id == user.id))
    )


def released_for(session: Session, user: User, program_id: int) -> ScopedManifests:
    """Return a programme's released manifests, each cut to what ``user`` may see of it."""
    return restrict_all(
        released_manifests(session, program_id), user.role, bound_units(session, user)
    )


def restrict_all(
    manifests: Sequence[Manifest], role: Role, bound: frozenset[int]
) -> ScopedManifests:
    """Return ``manifests`` cut to the scope of ``role`` (bound to ``bound`` if a manager).

    Admins and HR get the manifests themselves (nothing to cut); a round in which a reader
    sees no unit at all is left out.
    """
    scopes = [rules.round_scope(role, rules.nodes_of(m), bound) for m in manifests]
    depth = rules.report_depth(role)
    if role in (Role.ADMIN, Role.HR):
        return ScopedManifests(list(manifests), tuple(scopes), depth)
    kept = [(m, s) for m, s in zip(manifests, scopes, strict=True) if s.units]
    return ScopedManifests(
        [rules.restrict(m, s) for m, s in kept], tuple(s for _, s in kept), depth
    )
