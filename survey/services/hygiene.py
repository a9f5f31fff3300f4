"""Storage hygiene: after a round step mixes or destroys something, storage forgets it.

Invariant: the steps in :data:`SCRUBBING_STEPS` are followed, once committed, by
:func:`scrub_storage`; rows rewritten at release leave neither their heap order nor a
transaction id they shared behind.
"""

from __future__ import annotations

import random

from sqlalchemy import Engine, delete, insert, select
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


def rewrite_in_random_order(
    session: Session, model: type[Response] | type[Comment], round_id: int
) -> None:
    """Rewrite a round's rows of ``model`` in random order, so that on PostgreSQL neither heap
    order nor the ``xmin`` a comment shared with its response (one transaction) says anything
    any more. Plain statements: the rows never become objects in the session."""
    session.flush()
    mine = model.round_id == round_id
    copies = [dict(row._mapping) for row in session.execute(select(model.__table__).where(mine))]
    session.execute(delete(model).where(mine))
    random.SystemRandom().shuffle(copies)
    if copies:
        session.execute(insert(model), copies)
