"""Custodian mode against a real database: a quorum opens a round, nothing less does."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from survey import create_app, db
from survey.clock import utcnow
from survey.domain import crypto
from survey.domain.custody import Share
from survey.models import (
    Custody,
    CustodyShare,
    PendingShare,
    Program,
    Response,
    Round,
    RoundCustody,
    RoundStatus,
)
from survey.services import backups, custody, keyrotation, rounds
from survey.services.custody import CustodyError
from tests.conftest import OpenRound, Org, make_config
from tests.services.ballots import TODAY, open_next_round, round_status, step, submit

CHEAP = 2**10  # scrypt N in tests; the production cost is tested once (tests/domain)
PEOPLE = {"ana@hr": "ana's long passphrase", "ben@wc": "ben's long passphrase"}
PEOPLE["cy@staff"] = "cy's long passphrase!"


def custodian_mode(
    app: Flask, program_id: int, quorum: int = 2, people: dict[str, str] = PEOPLE
) -> None:
    """Put a programme in custodian mode with ``people`` (label -> passphrase) as custodians."""
    with db.session_scope(app) as session:
        program = session.get(Program, program_id)
        assert program is not None
        program.custody, program.custody_quorum = Custody.CUSTODIANS, quorum
        for label, passphrase in people.items():
            custody.add_custodian(session, program, label.split("@")[0], label, passphrase, CHEAP)
        session.commit()


def closed_round(app: Flask, organisation: Org, answered: int = 12) -> int:
    """Open a custodian-mode round, answer it and close it; return its id."""
    custodian_mode(app, organisation.program_id)
    round_id, tokens = open_next_round(app, organisation.program_id)
    for token in tokens[:answered]:
        submit(app, round_id, token, "Planning works well for us now.")
    step(app, round_id, "close")
    return round_id


def opened_shares(app: Flask, round_id: int, labels: list[str]) -> list[Share]:
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, round_id)
        return [custody.open_share(session, rnd, label, PEOPLE[label])[1] for label in labels]


def release(app: Flask, round_id: int, shares: list[Share]) -> str:
    return step(app, round_id, "release", shares=shares)


def test_a_quorum_releases_and_fewer_refuse_with_what_to_do(app: Flask, organisation: Org) -> None:
    round_id = closed_round(app, organisation)
    with pytest.raises(CustodyError, match=r"stays closed and nothing is lost.*0 were given"):
        release(app, round_id, [])
    one = opened_shares(app, round_id, ["ben@wc"])
    with pytest.raises(CustodyError, match=r"1 was given.*Still missing: ana \(ana@hr\), cy"):
        release(app, round_id, one)
    assert round_status(app, round_id) == "closed"
    message = release(app, round_id, opened_shares(app, round_id, ["cy@staff", "ana@hr"]))
    assert "is released" in message
    with db.session_scope(app) as session:
        rnd = session.get(Round, round_id)
        assert rnd is not None and rnd.status is RoundStatus.RELEASED
        assert session.scalars(select(CustodyShare)).all() == [], "shredded at release"


def test_a_wrong_passphrase_is_named_and_changes_nothing(app: Flask, organisation: Org) -> None:
    round_id = closed_round(app, organisation)
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, round_id)
        with pytest.raises(CustodyError, match=r"given for ana \(ana@hr\) does not open"):
            custody.open_share(session, rnd, "ana@hr", PEOPLE["ben@wc"])
        with pytest.raises(CustodyError, match="holds no share"):
            custody.open_share(session, rnd, "eve@outside", "whatever it is, really")
    assert round_status(app, round_id) == "closed"
    release(app, round_id, opened_shares(app, round_id, ["ana@hr", "ben@wc"]))


def test_a_round_opens_only_with_enough_custodians(app: Flask, organisation: Org) -> None:
    custodian_mode(app, organisation.program_id, quorum=3, people={"ana@hr": PEOPLE["ana@hr"]})
    with pytest.raises(CustodyError, match="quorum of 3 but has 1 custodian"):
        open_next_round(app, organisation.program_id)


def test_an_unreachable_quorum_keeps_the_round_closed(app: Flask, organisation: Org) -> None:
    """Two of three shares are lost for good: the round stays sealed, and says so."""
    round_id = closed_round(app, organisation)
    with db.session_scope(app) as session:
        for row in session.scalars(select(CustodyShare).where(CustodyShare.round_id == round_id)):
            if row.custodian_id != 1:
                session.delete(row)
        session.commit()
    with pytest.raises(CustodyError, match="quorum cannot be reached.*only 1 hold a share"):
        release(app, round_id, opened_shares(app, round_id, ["ana@hr"]))
    with db.session_scope(app) as session:
        assert session.query(Response).filter_by(round_id=round_id).count() == 12
    assert round_status(app, round_id) == "closed"


def test_a_leaving_custodian_is_reshared_out(app: Flask, organisation: Org) -> None:
    round_id = closed_round(app, organisation)
    old_cy = opened_shares(app, round_id, ["cy@staff"])
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, round_id)
        leaving = custody.find_custodian(session, rnd.program_id, "cy@staff")
        with pytest.raises(CustodyError, match="re-share them first"):
            custody.retire(session, leaving)
        leaving.active = False
        given = [custody.open_share(session, rnd, "cy@staff", PEOPLE["cy@staff"])[1]]
        given.append(custody.open_share(session, rnd, "ben@wc", PEOPLE["ben@wc"])[1])
        assert custody.reshare(session, rnd, given) == 2
        custody.retire(session, leaving)
        session.commit()
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, round_id)
        assert [h.label for h in custody.holders(session, round_id)] == ["ana@hr", "ben@wc"]
        with pytest.raises(CustodyError, match="holds no share"):
            custody.open_share(session, rnd, "cy@staff", PEOPLE["cy@staff"])
    # Cy's old share with a new one rebuilds nothing: the custody key itself is new.
    with pytest.raises(CustodyError, match="do not rebuild"):
        release(app, round_id, old_cy + opened_shares(app, round_id, ["ana@hr"]))
    assert "is released" in release(
        app, round_id, opened_shares(app, round_id, ["ana@hr", "ben@wc"])
    )


def test_pending_shares_expire_and_are_wiped(app: Flask, organisation: Org) -> None:
    import datetime as dt

    round_id = closed_round(app, organisation, answered=6)
    kek = app.extensions["candor.kek"]
    now = dt.datetime(2026, 11, 9, 10, 0)
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, round_id)
        holder, share = custody.open_share(session, rnd, "ana@hr", PEOPLE["ana@hr"])
        custody.hold(session, rnd, holder, share, kek, now)
        session.commit()
        assert custody.pending(session, rnd, kek, now) == {holder.id: share}
        row = session.get(PendingShare, (round_id, holder.id))
        assert row is not None and share.to_bytes() not in row.wrapped
        row.expires_at += dt.timedelta(hours=5)  # moving the expiry breaks its binding
        session.commit()
        assert custody.pending(session, rnd, kek, now) == {}
        custody.hold(session, rnd, holder, share, kek, now)
        later = now + dt.timedelta(minutes=custody.PENDING_MINUTES)
        assert custody.pending(session, rnd, kek, later) == {}
        session.commit()
        assert session.scalars(select(PendingShare)).all() == []


def test_the_operator_with_key_database_and_backup_but_no_quorum_opens_nothing(
    app: Flask, organisation: Org, tmp_path: Path, database_url: str
) -> None:
    """Try it as an operator would: the instance key against every wrapped blob, every label."""
    round_id = closed_round(app, organisation)
    kek = app.extensions["candor.kek"]
    engine = app.extensions["candor.engine"]
    backups.backup(engine, str(tmp_path / "backup"), utcnow())
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, round_id)
        assert rnd.wrapped_private_key is None, "the instance key wraps no opening key"
        held = session.get(RoundCustody, round_id)
        assert held is not None
        blobs = [held.wrapped_private_key] + [
            s.sealed for s in session.scalars(select(CustodyShare))
        ]
        blobs += [row.blob for row in keyrotation.wrapped_rows(session)]
        sealed = session.scalars(select(Response).where(Response.round_id == round_id)).first()
        assert sealed is not None
        info = crypto.context("response", round_id, sealed.unit_id, sealed.band)
        labels = [crypto.key_label(round_id, what) for what in ("private", "tokens")]
        opened = 0
        for blob in blobs:
            for label in labels:
                try:
                    key = crypto.unwrap_private_key(blob, kek, label)
                    crypto.open_sealed(sealed.sealed, key, info)
                    opened += 1
                except (crypto.CryptoError, ValueError):
                    pass
        assert opened == 0
        with pytest.raises(CustodyError, match="stays closed"):
            rounds.release_round(session, rnd, kek, TODAY)
    # The backup restored into a fresh instance, with the same instance key: still nothing.
    if database_url.startswith("sqlite"):
        fresh = make_config(tmp_path / "other", f"sqlite:///{tmp_path / 'restored.db'}")
        fresh["KEY_FILE"] = app.config["KEY_FILE"]
        restored_app = create_app(fresh, check_key=False)
        backups.restore(restored_app.extensions["candor.engine"], str(tmp_path / "backup"))
        with db.session_scope(restored_app) as session:
            rnd = rounds.get_round(session, round_id)
            with pytest.raises(CustodyError, match="stays closed"):
                rounds.release_round(session, rnd, kek, TODAY)
        restored_app.extensions["candor.engine"].dispose()


def test_key_rotation_leaves_custody_alone(app: Flask, organisation: Org) -> None:
    """The instance key wraps no custodian-mode opening key, so rotating it changes nothing."""
    round_id = closed_round(app, organisation, answered=6)
    report = keyrotation.rotate(app.extensions["candor.sessionmaker"], app.config["KEY_FILE"])
    assert report.rows >= 1
    with db.session_scope(app) as session:
        assert all(
            f"private key of round {round_id}" not in row.what
            for row in keyrotation.wrapped_rows(session)
        )
    shares = opened_shares(app, round_id, ["ana@hr", "cy@staff"])
    assert "is released" in release(app, round_id, shares)


def test_instance_mode_is_unchanged(app: Flask, open_round: OpenRound) -> None:
    with db.session_scope(app) as session:
        assert not custody.is_custodial(session, open_round.round_id)
        assert rounds.get_round(session, open_round.round_id).wrapped_private_key is not None
