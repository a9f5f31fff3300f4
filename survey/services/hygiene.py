"""Storage hygiene: after a round step mixes or destroys something, storage forgets it.

Invariant: the steps in :data:`SCRUBBING_STEPS` are followed, once committed, by
:func:`scrub_storage`; rows rewritten at release leave neither their heap order nor a
transaction id they shared behind.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ..models import Comment, Response
from . import mixing

# Steps after which the caller runs :func:`scrub_storage` (they mix or destroy something).
SCRUBBING_STEPS = ("close", "release")


def scrub_storage(engine: Engine) -> bool:
    """After a step that mixed or destroyed something, make storage forget old versions.

    See :func:`survey.services.mixing.scrub`; returns whether it fully did.
    """
    return mixing.scrub(engine)


def rewrite_in_random_order(session: Session, rows: Sequence[Response | Comment]) -> None:
    """Rewrite rows in random order, so that on PostgreSQL neither heap order nor the ``xmin``
    a comment shared with its response (one transaction) says anything any more."""
    copies = [
        (type(row), {c.key: getattr(row, c.key) for c in row.__table__.columns}) for row in rows
    ]
    for row in rows:
        session.delete(row)
    session.flush()
    random.SystemRandom().shuffle(copies)
    session.add_all(model(**values) for model, values in copies)
