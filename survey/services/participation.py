"""An open round's participation as staff may see it: org-wide, rounded, fixed for the day."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain import disclosure
from ..domain.participation import FEWER_THAN_K, rounded_share
from ..models import Invitation, ParticipationSnapshot, Round, RoundStatus


def participation_today(session: Session, rnd: Round, today: dt.date) -> int | None:
    """Return an open round's org-wide participation, rounded, fixed for the whole day.

    The first call of a day records the value; later calls that day return the same number,
    so watching the page cannot time anyone's answer more finely than a day. None until k
    people have answered, and never in steps finer than k people.
    """
    if rnd.status is not RoundStatus.OPEN or rnd.snapshot is None:
        return None
    found = session.get(ParticipationSnapshot, (rnd.id, today))
    if found is None:
        invited = len(rnd.snapshot["people"])
        left = (
            session.scalar(
                select(func.count()).select_from(Invitation).where(Invitation.round_id == rnd.id)
            )
            or 0
        )
        value = rounded_share(invited, invited - left, rnd.k or disclosure.DEFAULT_K)
        found = ParticipationSnapshot(round_id=rnd.id, day=today, pct_rounded=value)
        try:
            with session.begin_nested():  # another request may record the same day at once
                session.add(found)
        except IntegrityError:
            found = session.get(ParticipationSnapshot, (rnd.id, today))
            assert found is not None
    return None if found.pct_rounded == FEWER_THAN_K else found.pct_rounded
