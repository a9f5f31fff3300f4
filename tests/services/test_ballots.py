"""Check-in and ballot: one signature per link, one response per credential, nothing else."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from flask import Flask
from sqlalchemy import event, select

from survey import db
from survey.domain import blindrsa
from survey.models import BallotKey, CheckIn, Invitation, Release, Round, SpentBallot
from survey.services import ballotkeys, rounds, submission
from tests.conftest import OpenRound, answers_for
from tests.helpers import invitation_unused, stored_answers

CONCURRENT = 20


def answers(app: Flask, round_id: int, value: int = 4) -> dict[str, int]:
    return {k.removeprefix("q_"): int(v) for k, v in answers_for(app, round_id, value).items()}


class Client:
    """What a browser does: blind a random message for the code's key, unblind the reply."""

    def __init__(self, app: Flask, round_id: int, code: str) -> None:
        self.app, self.round_id, self.code = app, round_id, code
        self.key_id = submission.key_id_of(code)
        with db.session_scope(app) as session:
            key = ballotkeys.public_key(session, round_id, self.key_id)
        self.public = blindrsa.load_public(key.public_der)
        self.message = blindrsa.prepare(bytes(range(32)))
        self.blinded, self.inv = blindrsa.blind(self.public, self.message)

    def check_in(self) -> submission.Credential:
        with db.session_scope(self.app) as session:
            survey = submission.survey_for(session, self.round_id)
            key_id, blind_sig = submission.check_in(
                session, survey, self.code, self.blinded, self.app.extensions["candor.kek"]
            )
            session.commit()
        signature = blindrsa.finalize(self.public, self.message, blind_sig, self.inv)
        return submission.Credential(key_id, self.message, signature)


def cast(app: Flask, round_id: int, credential: submission.Credential, value: int = 4) -> bool:
    chosen = answers(app, round_id, value)
    with db.session_scope(app) as session:
        survey = submission.survey_for(session, round_id)
        new = submission.cast_ballot(session, survey, credential, chosen, "")
        session.commit()
        return new


def test_round_trip_stores_one_response_under_the_keys_label(
    app: Flask, open_round: OpenRound
) -> None:
    code = next(iter(open_round.tokens.values()))
    credential = Client(app, open_round.round_id, code).check_in()
    with db.session_scope(app) as session:
        assert not invitation_unused(session, open_round.round_id, code)
        assert stored_answers(session, open_round.round_id) == 0
    assert cast(app, open_round.round_id, credential)
    with db.session_scope(app) as session:
        assert stored_answers(session, open_round.round_id) == 1
        assert session.query(SpentBallot).count() == 1


def test_concurrent_check_ins_of_one_link_sign_once(app: Flask, open_round: OpenRound) -> None:
    code = next(iter(open_round.tokens.values()))
    clients = [Client(app, open_round.round_id, code) for _ in range(CONCURRENT)]
    outcomes: Counter[str] = Counter()
    barrier = threading.Barrier(CONCURRENT)
    lock = threading.Lock()

    def worker(client: Client) -> None:
        barrier.wait()
        try:
            client.check_in()
            result = "signed"
        except submission.LinkUnusable:
            result = "refused"
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == Counter(signed=1, refused=CONCURRENT - 1)


def test_concurrent_ballots_of_one_credential_store_once(app: Flask, open_round: OpenRound) -> None:
    code = next(iter(open_round.tokens.values()))
    credential = Client(app, open_round.round_id, code).check_in()
    outcomes: Counter[str] = Counter()
    barrier = threading.Barrier(CONCURRENT)
    lock = threading.Lock()

    def worker(value: int) -> None:
        barrier.wait()
        try:
            result = "stored" if cast(app, open_round.round_id, credential, value) else "again"
        except submission.BallotRefused:
            result = "refused"
        with lock:
            outcomes[result] += 1

    # Different answers each: at most one may be stored, every other one is refused.
    threads = [threading.Thread(target=worker, args=(1 + i % 5,)) for i in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes["stored"] == 1
    assert outcomes["stored"] + outcomes["again"] + outcomes["refused"] == CONCURRENT
    with db.session_scope(app) as session:
        assert stored_answers(session, open_round.round_id) == 1


def test_a_lost_check_in_reply_can_be_repeated_only_with_the_same_blinding(
    app: Flask, open_round: OpenRound
) -> None:
    code = next(iter(open_round.tokens.values()))
    client = Client(app, open_round.round_id, code)
    first = client.check_in()
    again = client.check_in()  # the same blinded message: the same signature, nothing consumed
    assert again == first
    other = Client(app, open_round.round_id, code)
    other.message = blindrsa.prepare(b"\x01" * 32)
    other.blinded, other.inv = blindrsa.blind(other.public, other.message)
    with pytest.raises(submission.LinkUnusable):
        other.check_in()


def test_identical_retry_is_told_and_different_answers_are_refused(
    app: Flask, open_round: OpenRound
) -> None:
    code = next(iter(open_round.tokens.values()))
    credential = Client(app, open_round.round_id, code).check_in()
    assert cast(app, open_round.round_id, credential, 4) is True
    assert cast(app, open_round.round_id, credential, 4) is False
    with pytest.raises(submission.BallotRefused):
        cast(app, open_round.round_id, credential, 2)
    with db.session_scope(app) as session:
        assert stored_answers(session, open_round.round_id) == 1


def forge(credential: submission.Credential, **changes: object) -> submission.Credential:
    fields = {
        "key_id": credential.key_id,
        "message": credential.message,
        "signature": credential.signature,
        **changes,
    }
    return submission.Credential(**fields)  # type: ignore[arg-type]


def test_forged_or_other_label_credentials_are_refused(app: Flask, open_round: OpenRound) -> None:
    code = next(iter(open_round.tokens.values()))
    credential = Client(app, open_round.round_id, code).check_in()
    with db.session_scope(app) as session:
        key_ids = list(
            session.scalars(
                select(BallotKey.key_id).where(BallotKey.round_id == open_round.round_id)
            )
        )
    assert len(key_ids) > 1, "the fixture's organisation has several storage labels"
    other_key = next(k for k in key_ids if k != credential.key_id)
    flipped = bytes([credential.signature[0] ^ 1]) + credential.signature[1:]
    for bad in (
        forge(credential, key_id=other_key),  # a signature of one label claimed for another
        forge(credential, signature=flipped),
        forge(credential, message=credential.message[:-1] + b"\x00"),
        forge(credential, message=credential.message[:10]),
        forge(credential, key_id=999),
    ):
        with pytest.raises(submission.BallotRefused):
            cast(app, open_round.round_id, bad)
    with db.session_scope(app) as session:
        assert stored_answers(session, open_round.round_id) == 0


def test_after_close_nothing_is_signed_or_accepted(app: Flask, open_round: OpenRound) -> None:
    codes = list(open_round.tokens.values())
    early = Client(app, open_round.round_id, codes[0]).check_in()
    late = Client(app, open_round.round_id, codes[1])
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, open_round.round_id)
        rounds.close_round(session, rnd, dt.date(2026, 11, 7))
        session.commit()
    with pytest.raises(submission.RoundNotOpen):
        late.check_in()
    with pytest.raises(submission.RoundNotOpen):
        cast(app, open_round.round_id, early)
    with db.session_scope(app) as session:
        assert session.query(Invitation).count() == 0
        assert session.query(CheckIn).count() == 0
        keys = session.scalars(
            select(BallotKey).where(BallotKey.round_id == open_round.round_id)
        ).all()
        assert keys and all(k.wrapped_private_key is None for k in keys)
        rnd = session.get(Round, open_round.round_id)
        assert rnd is not None and rnd.wrapped_token_secret is None


def test_a_signing_key_is_unwrapped_once_and_never_used_after_close(
    app: Flask, open_round: OpenRound
) -> None:
    """Check-ins sign with this process's copy of a key while its round is open, and read
    its wrapped half once; a process that still holds the copy after the round closed (as
    another worker would) signs nothing with it."""
    codes = [c for c in open_round.tokens.values() if submission.key_id_of(c) == 1][:2]
    assert len(codes) == 2, "two links of one storage group"
    reads: list[str] = []

    def count(conn: object, cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("SELECT ballot_keys.wrapped_private_key"):
            reads.append(statement)

    engine = app.extensions["candor.engine"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        first = Client(app, open_round.round_id, codes[0]).check_in()
        second = Client(app, open_round.round_id, codes[1]).check_in()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert first.key_id == second.key_id == 1
    assert len(reads) <= 1  # none if an earlier test of this process unwrapped it already
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, open_round.round_id)
        kept = ballotkeys.signing_key(
            session, rnd.id, rnd.public_key or b"", 1, app.extensions["candor.kek"]
        )
        opening_key = rnd.public_key or b""
        rounds.close_round(session, rnd, dt.date(2026, 11, 7))
        session.commit()
    # The closing process forgot its copy; another process's copy is put back by hand.
    ballotkeys._signing.put((open_round.round_id, opening_key, 1), kept)
    third = next(c for c in open_round.tokens.values() if c not in codes)
    with pytest.raises(submission.RoundNotOpen):
        Client(app, open_round.round_id, third).check_in()
    with db.session_scope(app) as session:
        assert session.query(CheckIn).count() == 0


def test_one_key_per_label_and_every_code_names_its_labels_key(
    app: Flask, open_round: OpenRound
) -> None:
    with db.session_scope(app) as session:
        keys = session.scalars(
            select(BallotKey).where(BallotKey.round_id == open_round.round_id)
        ).all()
        labels = {(k.unit_id, k.band) for k in keys}
        assert len(labels) == len(keys)
        invitations = session.scalars(select(Invitation)).all()
        by_id = {k.key_id: (k.unit_id, k.band) for k in keys}
        assert all(by_id[i.key_id] == (i.unit_id, i.band) for i in invitations)
        assert {i.key_id for i in invitations} == set(by_id)
    for code in open_round.tokens.values():
        assert submission.key_id_of(code) in by_id


def test_the_release_records_every_ballot_keys_fingerprint(
    app: Flask, open_round: OpenRound
) -> None:
    code = next(iter(open_round.tokens.values()))
    cast(app, open_round.round_id, Client(app, open_round.round_id, code).check_in())
    with db.session_scope(app) as session:
        public = ballotkeys.public_keys(session, open_round.round_id)
        rnd = rounds.get_round(session, open_round.round_id)
        paths = {int(u): info["path"] for u, info in (rnd.snapshot or {})["units"].items()}
        rounds.close_round(session, rnd, dt.date(2026, 11, 7))
        kek = app.extensions["candor.kek"]
        rounds.advance(session, rnd, "release", kek, dt.date(2026, 11, 8))
        session.commit()
        stored = session.scalars(select(Release.manifest).where(Release.round_id == rnd.id)).one()
    assert public and stored["ballot_keys"] == [
        {
            "key_id": key.key_id,
            "unit": paths[key.unit_id],
            "band": key.band,
            "fingerprint": blindrsa.fingerprint(key.public_der),
        }
        for key in public
    ]
    assert [k["fingerprint"] for k in stored["ballot_keys"]] == [k.fingerprint for k in public]
