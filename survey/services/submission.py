"""Accepting an answer: one link, one response, in one transaction.

Invariants: looking at a link never changes anything; a valid submission deletes the
invitation (checking that this call deleted it) and stores the sealed response in the same
transaction, so concurrent submissions of one link store exactly one response, and a failed
submission leaves the link usable. Unknown, used and malformed links are indistinguishable.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..domain import crypto
from ..domain.questions import Bank, Item
from ..domain.release import COMMENT_MAX_DEPTH
from ..models import Comment, Invitation, Response, Round, RoundStatus
from . import banks

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
COMMENT_MAX_CHARS = 2000


class LinkUnusable(Exception):
    """The link is unknown, already used or malformed; deliberately one case."""


class RoundNotOpen(Exception):
    """The round exists but is not accepting answers (not yet open, or closed)."""


@dataclass(frozen=True)
class Survey:
    """What the survey page needs: the round, its items and its bank."""

    round: Round
    bank: Bank
    items: tuple[Item, ...]


def survey_for(session: Session, round_id: int) -> Survey:
    """Return the survey of an open round, or raise :class:`RoundNotOpen`/:class:`LinkUnusable`."""
    rnd = session.get(Round, round_id)
    if rnd is None:
        raise LinkUnusable()
    if rnd.status is not RoundStatus.OPEN or rnd.items is None:
        raise RoundNotOpen(rnd.status.value)
    bank = banks.frozen_bank(rnd)
    return Survey(rnd, bank, bank.items_for(tuple(rnd.items["asked"])))


def check_token(session: Session, round_id: int, token: str) -> bool:
    """Return whether ``token`` is an unused invitation to this round (reads only)."""
    if not TOKEN_PATTERN.match(token):
        return False
    found = session.scalar(
        select(Invitation.round_id).where(Invitation.token_hash == crypto.token_hash(token))
    )
    return found == round_id


def comment_unit(snapshot: Mapping[str, Any], unit_id: int) -> int:
    """Return the organisation- or department-level unit a comment from ``unit_id`` is kept in."""
    units = snapshot.get("units", {})
    if str(unit_id) not in units:
        return unit_id
    chain = [unit_id]
    while units[str(chain[-1])]["parent"] is not None:
        chain.append(int(units[str(chain[-1])]["parent"]))
    return chain[max(0, len(chain) - 1 - COMMENT_MAX_DEPTH)]


def submit(
    session: Session,
    survey: Survey,
    token: str,
    answers: Mapping[str, int],
    comment: str,
) -> None:
    """Consume the invitation and store the sealed answers; the caller commits.

    Raises :class:`LinkUnusable` if this call did not consume the invitation (unknown, used,
    or used concurrently by another request), in which case nothing was written.
    """
    rnd = survey.round
    if not TOKEN_PATTERN.match(token) or rnd.public_key is None:
        raise LinkUnusable()
    consumed = session.execute(
        delete(Invitation)
        .where(Invitation.token_hash == crypto.token_hash(token), Invitation.round_id == rnd.id)
        .returning(Invitation.unit_id, Invitation.band)
    ).first()
    if consumed is None:
        raise LinkUnusable()
    unit_id, band = consumed
    payload = json.dumps({"v": 1, "answers": dict(answers)}, separators=(",", ":")).encode()
    session.add(
        Response(
            id=crypto.new_response_id(),
            round_id=rnd.id,
            unit_id=unit_id,
            band=band,
            sealed=crypto.seal(
                payload, rnd.public_key, crypto.context("response", rnd.id, unit_id, band)
            ),
        )
    )
    # Control characters would be escaped (6 bytes each) and could overflow the padding bucket.
    text = "".join(
        ch for ch in comment if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
    ).strip()[:COMMENT_MAX_CHARS]
    if text:
        body = json.dumps({"v": 1, "text": text}, ensure_ascii=False).encode()
        # Comments are only ever published per department, so they are stored no finer.
        place = comment_unit(rnd.snapshot or {}, unit_id)
        session.add(
            Comment(
                id=crypto.new_response_id(),
                round_id=rnd.id,
                unit_id=place,
                sealed=crypto.seal(
                    body,
                    rnd.public_key,
                    crypto.context("comment", rnd.id, place, ""),
                    at_least=crypto.COMMENT_BUCKET,
                ),
            )
        )
    session.flush()
