"""Accepting answers in two unlinkable steps: check-in, then ballot (RFC 9474).

Invariants:
- Looking at a link never changes anything. Unknown, used and malformed codes are one case.
- **Check-in** consumes the invitation (``DELETE … RETURNING``: of concurrent check-ins of one
  code exactly one succeeds) and returns a blind signature, made with the ballot key of the
  invitation's storage label, over a message the server never sees. It keeps that blind
  signature under the code's hash, so a check-in whose reply was lost can be repeated with the
  same blinded message; a blinded message is uniformly random, so this says nothing about
  the ballot.
- **Ballot** carries answers, the unblinded message and its signature, and nothing that names
  the invitation. It is accepted once: the message's hash goes into the spent set (unique), and
  the sealed answers go into the inbox under the key's label, in one transaction. A second
  ballot with the same message is refused like a forged one, unless it is the identical retry
  of an accepted ballot, which is told so (only the holder of the message can ask).
- Nothing a check-in writes and nothing a ballot writes share a key, a value or a transaction.

Without JavaScript the server plays the browser's part (:func:`server_credential`): it sees the
code and the answers in one request, which is weaker, and the survey page says so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..domain import blindrsa, crypto
from ..domain.lifecycle import round_label
from ..domain.questions import PREFER_NOT_TO_SAY, Bank, Item
from ..domain.release import COMMENT_MAX_DEPTH
from ..kept import Kept
from ..models import CheckIn, InboxEntry, Invitation, Program, Round, RoundStatus, SpentBallot
from . import ballotkeys, banks, mixing

# An access code is "<key id>.<secret>": the key id names the storage label's ballot key (so
# the browser can blind for it before checking in), the secret is 192 random-looking bits.
TOKEN_PATTERN = re.compile(r"^[0-9]{1,6}\.[A-Za-z0-9_-]{20,64}$")
COMMENT_MAX_CHARS = 2000
MESSAGE_BYTES = blindrsa.PREFIX_BYTES + 32  # the randomising prefix and 32 random bytes


class LinkUnusable(Exception):
    """The link is unknown, already used or malformed; deliberately one case."""


class RoundNotOpen(Exception):
    """The round exists but is not accepting answers (not yet open, or closed)."""


class BallotRefused(Exception):
    """The ballot's credential is forged, for another label or round, or already spent."""


class InvalidAnswers(ValueError):
    """The answers do not fit the round's questions; ``errors`` maps field keys to reasons."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors


@dataclass(frozen=True)
class OpenRound:
    """What answering needs of an open round, frozen when it opened (plain values).

    ``public_key`` is the round's HPKE key: 32 random bytes made at opening, so it names one
    round of one database. ``comment_places`` maps each snapshot unit to the unit its comments
    are kept in (see :func:`comment_unit`).
    """

    id: int
    program_id: int
    number: int
    k: int | None
    comment_k: int | None
    public_key: bytes
    unlinkable_required: bool
    comment_places: Mapping[int, int] = field(hash=False, compare=False)

    @property
    def label(self) -> str:
        """Return the short name people use for this round."""
        return round_label(self.number)


@dataclass(frozen=True)
class Survey:
    """What the survey page needs: the round, its items and its bank."""

    round: OpenRound
    bank: Bank
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Credential:
    """An unblinded ballot credential: the key it is for, the message and its signature."""

    key_id: int
    message: bytes
    signature: bytes


# The one query each survey request makes about its round: whether it is open, the key that
# names its frozen facts, and the one programme setting that may change while it is open.
ROUND_STATE = (
    select(Round.status, Round.public_key, Round.items.is_(None), Program.unlinkable_required)
    .join(Program, Program.id == Round.program_id)
    .where(Round.id == bindparam("round_id"))
)
# The statements of check-in and ballot, built once (Core, on the session's connection: these
# run on every answer, and none of them needs ORM objects).
_CONSUME = (
    delete(Invitation)
    .where(
        Invitation.token_hash == bindparam("token_hash"),
        Invitation.round_id == bindparam("round_id"),
        Invitation.key_id == bindparam("key_id"),
    )
    .returning(Invitation.key_id)
)
_EARLIER_CHECK_IN = select(CheckIn.round_id, CheckIn.blinded_digest, CheckIn.blind_signature).where(
    CheckIn.token_hash == bindparam("token_hash")
)
_CHECKED_IN = insert(CheckIn)
_EARLIER_REPLAY = select(SpentBallot.replay_digest).where(SpentBallot.digest == bindparam("digest"))
_TO_INBOX = insert(InboxEntry)
_SPEND = {
    name: make(SpentBallot)
    .on_conflict_do_nothing(index_elements=[SpentBallot.digest])
    .returning(SpentBallot.digest)
    for name, make in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
# The same, for a check-in or a ballot: the round's row is share-locked until the answer's
# transaction ends, so closing the round (which locks it for update, then mixes the inbox)
# waits for every answer that saw it open, and an answer that waited sees it closed. On
# PostgreSQL; SQLite's writers are serialised by BEGIN IMMEDIATE anyway (and it renders no
# lock clause).
_ROUND_STATE_LOCKED = ROUND_STATE.with_for_update(read=True, of=Round)
# Open rounds' frozen facts per process, under (round id, public key).
_open: Kept[tuple[int, bytes], Survey] = Kept(64)


def survey_for(session: Session, round_id: int, *, answering: bool = False) -> Survey:
    """Return the survey of an open round, or raise :class:`RoundNotOpen`/:class:`LinkUnusable`.

    Reads one row; the round's frozen questions, bank and comment places are read and parsed
    once per process (an open round's settings never change). ``answering``: the caller
    checks in or casts a ballot in this transaction, so the round may not close under it.
    """
    statement = _ROUND_STATE_LOCKED if answering else ROUND_STATE
    state = session.connection().execute(statement, {"round_id": round_id}).first()
    if state is None:
        raise LinkUnusable()
    status, public_key, no_items, unlinkable = state
    if status is not RoundStatus.OPEN or no_items or public_key is None:
        raise RoundNotOpen(status.value)
    found = _open.get_or_make((round_id, public_key), lambda: _read_open(session, round_id))
    if found.round.unlinkable_required != unlinkable:
        found = replace(found, round=replace(found.round, unlinkable_required=unlinkable))
    return found


def _read_open(session: Session, round_id: int) -> Survey:
    rnd = session.get(Round, round_id)
    if rnd is None or rnd.items is None or rnd.public_key is None:
        raise LinkUnusable()
    bank = banks.frozen_bank(rnd)
    units = (rnd.snapshot or {}).get("units", {})
    facts = OpenRound(
        rnd.id,
        rnd.program_id,
        rnd.number,
        rnd.k,
        rnd.comment_k,
        rnd.public_key,
        rnd.program.unlinkable_required,
        {int(unit): comment_unit(rnd.snapshot or {}, int(unit)) for unit in units},
    )
    return Survey(facts, bank, bank.items_for(tuple(rnd.items["asked"])))


def key_id_of(code: str) -> int:
    """Return the ballot key named by an access code, or raise :class:`LinkUnusable`."""
    if not TOKEN_PATTERN.match(code):
        raise LinkUnusable()
    return int(code.split(".", 1)[0])


def check_in(
    session: Session, survey: Survey, code: str, blinded: bytes, kek: bytes
) -> tuple[int, bytes]:
    """Consume the invitation and blind-sign ``blinded``; return (key id, blind signature).

    The caller commits. Raises :class:`LinkUnusable` if this call did not consume the
    invitation (unknown, used, or used concurrently by another request); nothing was written.
    """
    key_id = key_id_of(code)
    rnd = survey.round
    token_hash = crypto.token_hash(code)
    blinded_digest = hashlib.sha256(blinded).digest()
    conn = _connection(session)
    found = {"token_hash": token_hash, "round_id": rnd.id, "key_id": key_id}
    if conn.execute(_CONSUME, found).first() is None:
        earlier = conn.execute(_EARLIER_CHECK_IN, {"token_hash": token_hash}).first()
        if (
            earlier is not None
            and earlier.round_id == rnd.id
            and hmac.compare_digest(earlier.blinded_digest, blinded_digest)
        ):
            return key_id, earlier.blind_signature  # a repeat whose first answer was lost
        raise LinkUnusable()
    try:
        key = ballotkeys.signing_key(session, rnd.id, rnd.public_key, key_id, kek)
        signed = blindrsa.blind_sign(key, blinded)
    except (ballotkeys.KeyUnavailable, blindrsa.BlindSignatureError) as exc:
        raise LinkUnusable() from exc
    conn.execute(
        _CHECKED_IN,
        {
            "token_hash": token_hash,
            "round_id": rnd.id,
            "blinded_digest": blinded_digest,
            "blind_signature": signed,
        },
    )
    return key_id, signed


def server_credential(session: Session, survey: Survey, code: str, kek: bytes) -> Credential:
    """Check in on the person's behalf (the no-JavaScript path); the caller commits."""
    key_id = key_id_of(code)
    try:
        public = ballotkeys.open_public_key(
            session, survey.round.id, survey.round.public_key, key_id
        ).public
    except ballotkeys.KeyUnavailable as exc:
        raise LinkUnusable() from exc
    message = blindrsa.prepare(crypto.new_response_id() * 2)
    blinded, inv = blindrsa.blind(public, message)
    _, blind_sig = check_in(session, survey, code, blinded, kek)
    return Credential(key_id, message, blindrsa.finalize(public, message, blind_sig, inv))


def parse_answers(items: tuple[Item, ...], raw: Mapping[str, Any]) -> dict[str, int]:
    """Return item key -> answer for every item answered, or raise :class:`InvalidAnswers`.

    Every item needs an answer. ``PREFER_NOT_TO_SAY`` is one for the items that offer it, and
    such an item is left out of what is returned (so out of the sealed ballot: absent by
    choice); any other item sent it is refused as ``"not_offered"``.
    """
    answers: dict[str, int] = {}
    errors: dict[str, str] = {}
    for item in items:
        value = raw.get(item.key)
        low, high = item.bounds
        if value == PREFER_NOT_TO_SAY:
            if not item.prefer_not_to_say:
                errors[item.key] = "not_offered"
            continue
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[item.key] = "required"
            continue
        answers[item.key] = value
    unknown = set(raw) - {item.key for item in items}
    if unknown:
        errors.update(dict.fromkeys(sorted(unknown), "unknown"))
    if errors:
        raise InvalidAnswers(errors)
    return answers


def clean_comment(comment: str) -> str:
    """Return the comment without control characters, trimmed to the maximum length."""
    # Control characters would be escaped (6 bytes each) and could overflow the padding bucket.
    # A removed character becomes a space, so words it separated stay apart.
    text = "".join(
        ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in comment
    )
    return text.strip()[:COMMENT_MAX_CHARS]


def comment_unit(snapshot: Mapping[str, Any], unit_id: int) -> int:
    """Return the organisation- or department-level unit a comment from ``unit_id`` is kept in."""
    units = snapshot.get("units", {})
    if str(unit_id) not in units:
        return unit_id
    chain = [unit_id]
    while units[str(chain[-1])]["parent"] is not None:
        chain.append(int(units[str(chain[-1])]["parent"]))
    return chain[max(0, len(chain) - 1 - COMMENT_MAX_DEPTH)]


def _spent_digest(round_id: int, message: bytes) -> bytes:
    return hashlib.sha256(f"candor/ballot/{round_id}|".encode() + message).digest()


def _replay_digest(message: bytes, answers: Mapping[str, int], comment: str) -> bytes:
    body = json.dumps([sorted(answers.items()), comment], ensure_ascii=False).encode()
    return hashlib.sha256(b"candor/replay|" + message + body).digest()


def cast_ballot(
    session: Session,
    survey: Survey,
    credential: Credential,
    answers: Mapping[str, int],
    comment: str,
) -> bool:
    """Verify the credential and put the sealed answers in the inbox; the caller commits.

    Returns True for a new ballot and False for the identical retry of one already accepted
    (nothing written). Raises :class:`BallotRefused` for anything else, having written nothing.
    """
    rnd = survey.round
    if len(credential.message) != MESSAGE_BYTES:
        raise BallotRefused()
    try:
        key = ballotkeys.open_public_key(session, rnd.id, rnd.public_key, credential.key_id)
        valid = blindrsa.verify(key.public, credential.message, credential.signature)
    except (ballotkeys.KeyUnavailable, blindrsa.BlindSignatureError) as exc:
        raise BallotRefused() from exc
    if not valid:
        raise BallotRefused()
    text = clean_comment(comment)
    digest = _spent_digest(rnd.id, credential.message)
    replay = _replay_digest(credential.message, answers, text)
    conn = _connection(session)
    if not _spend(conn, digest, rnd.id, replay):  # spent before, or concurrently
        earlier = conn.execute(_EARLIER_REPLAY, {"digest": digest}).scalar()
        if earlier is not None and hmac.compare_digest(earlier, replay):
            return False
        raise BallotRefused()
    payload = json.dumps({"v": 1, "answers": dict(answers)}, separators=(",", ":")).encode()
    context = crypto.context("response", rnd.id, key.unit_id, key.band)
    entries = [_entry(rnd, mixing.RESPONSE, key.unit_id, key.band, payload, context)]
    if text:
        body = json.dumps({"v": 1, "text": text}, ensure_ascii=False).encode()
        # Comments are only ever published per department, so they are stored no finer.
        place = rnd.comment_places.get(key.unit_id, key.unit_id)
        context = crypto.context("comment", rnd.id, place, "")
        entries.append(_entry(rnd, mixing.COMMENT, place, "", body, context, crypto.COMMENT_BUCKET))
    conn.execute(_TO_INBOX, entries)
    return True


def _entry(
    rnd: OpenRound,
    kind: str,
    unit_id: int,
    band: str,
    plaintext: bytes,
    context: bytes,
    at_least: int = 0,
) -> dict[str, Any]:
    """Return an inbox row: the plaintext sealed to the round under its storage label."""
    sealed = crypto.seal(plaintext, rnd.public_key, context, at_least=at_least)
    return {
        "id": crypto.new_response_id(),
        "round_id": rnd.id,
        "kind": kind,
        "unit_id": unit_id,
        "band": band,
        "sealed": sealed,
    }


def _connection(session: Session) -> Connection:
    """Return the session's connection for Core statements, once what it holds is written."""
    session.flush()
    return session.connection()


def _spend(conn: Connection, digest: bytes, round_id: int, replay: bytes) -> bool:
    """Add a credential to the spent set; return False if it is there already (or is being
    added by a concurrent ballot, which this waits for)."""
    added = conn.execute(
        _SPEND[conn.dialect.name], {"digest": digest, "round_id": round_id, "replay_digest": replay}
    ).first()
    return added is not None


def submit(
    session: Session,
    survey: Survey,
    code: str,
    answers: Mapping[str, int],
    comment: str,
    kek: bytes,
) -> None:
    """Check in and cast the ballot in one go, without committing in between.

    For the demo and for tests that need answers stored; the web's no-JavaScript path commits
    between the two steps (see :mod:`survey.web.employee`).
    """
    credential = server_credential(session, survey, code, kek)
    cast_ballot(session, survey, credential, answers, comment)
