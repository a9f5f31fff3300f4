"""The one place that decides which released results a staff member sees.

Every results surface (dashboard pages, reports, charts, CSV, PDF) gets its manifests from
:func:`released_for`, already cut to the reader's scope by :mod:`survey.domain.scope`: a unit
outside it is simply not there, so a chart URL, an export or a page for it finds nothing (404).
Which *pages* a role may open is the policy table (:mod:`survey.domain.access`).

The cut is kept per process, keyed by exactly what decides it: the releases (id and digest of
their content, which never changes), the reader's role and the units a manager is bound to,
read afresh on every request. Two readers with the same key see the same cut by definition;
a reader whose role or bindings change gets a new key, and so a new cut.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..domain import scope as rules
from ..domain.manifest import Manifest
from ..kept import Kept
from ..models import ManagerUnit, Role
from .accounts import SignedIn
from .manifests import ReleaseKey, released

T = TypeVar("T")
VIEWS_KEPT = 512  # per cut: a few pages' views for each unit a reader opens
BODIES_KEPT = 64  # per cut: rendered page bodies (tens of KB each), the most recently shown


@dataclass(frozen=True)
class ScopedManifests:
    """A programme's released manifests as one reader may see them, oldest first.

    ``scopes`` gives, per manifest, the units kept; ``broader`` the units shown only as the
    nearest published broader team of a manager's hidden unit, in any round. Shared by every
    request with the same releases, role and bindings, so never changed; views computed from
    it are kept *in* it (:meth:`view`), and so can never reach a reader of another scope.
    """

    manifests: tuple[Manifest, ...]
    scopes: tuple[rules.RoundScope, ...]
    report_depth: int | None = rules.LEADERSHIP_MAX_DEPTH
    _views: Kept[Hashable, Any] = field(
        default_factory=lambda: Kept(VIEWS_KEPT), compare=False, repr=False
    )
    _bodies: Kept[Hashable, Any] = field(
        default_factory=lambda: Kept(BODIES_KEPT), compare=False, repr=False
    )

    def view(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return ``compute()``, computed once for these manifests and kept under ``key``.

        ``key`` names the view and everything else it depends on (a unit, events); the
        result must be immutable, since it is shared between requests.
        """
        return cast(T, self._views.get_or_make(key, compute))

    def body(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return ``compute()``, a rendered page body, kept under ``key`` like :meth:`view`
        but among fewer, larger values."""
        return cast(T, self._bodies.get_or_make(key, compute))

    @property
    def broader(self) -> frozenset[int]:
        """Return the units shown as a broader team in at least one round."""
        return frozenset().union(*(s.broader for s in self.scopes))

    @property
    def organisation(self) -> bool:
        """Return whether the reader sees the organisation in every round they see."""
        return all(s.organisation for s in self.scopes)


# Cuts kept per process: a handful per programme (one per role, one per manager's bindings).
ScopeKey = tuple[tuple[ReleaseKey, ...], Role, frozenset[int]]
_scoped: Kept[ScopeKey, ScopedManifests] = Kept(64)


# Read on every results request of a manager, so built once.
_BOUND = select(ManagerUnit.unit_id).where(ManagerUnit.user_id == bindparam("user_id"))


def bound_units(session: Session, user: SignedIn) -> frozenset[int]:
    """Return the units a manager is bound to (none for other roles)."""
    if user.role is not Role.MANAGER:
        return frozenset()
    return frozenset(session.scalars(_BOUND, {"user_id": user.id}))


def released_for(session: Session, user: SignedIn, program_id: int) -> ScopedManifests:
    """Return a programme's released manifests, each cut to what ``user`` may see of it.

    The result is shared with every request of the same releases, role and bindings.
    """
    found = released(session, program_id)
    key: ScopeKey = (tuple(k for k, _ in found), user.role, bound_units(session, user))
    return _scoped.get_or_make(key, lambda: restrict_all([m for _, m in found], user.role, key[2]))


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
        return ScopedManifests(tuple(manifests), tuple(scopes), depth)
    kept = [(m, s) for m, s in zip(manifests, scopes, strict=True) if s.units]
    return ScopedManifests(
        tuple(rules.restrict(m, s) for m, s in kept), tuple(s for _, s in kept), depth
    )
