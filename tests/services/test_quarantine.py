"""A sealed row that fails to open stops the release with its count and label; an explicit
quarantine releases without it, counts it in the manifest and the audit trail, and keeps it
sealed aside."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from survey import db
from survey.models import AuditEvent, Comment, QuarantinedRow, Release, Response
from survey.services import rounds
from survey.services.quarantine import QUARANTINED
from tests.conftest import OpenRound
from tests.helpers import keep_sealed
from tests.services.ballots import round_status, step, submit

COMMENT = "The new planning process works well for us."


def _closed_round(app: Flask, open_round: OpenRound) -> int:
    for i, token in enumerate(open_round.tokens.values()):
        submit(app, open_round.round_id, token, COMMENT if i % 2 == 0 else "")
    step(app, open_round.round_id, "close")
    return open_round.round_id


def _flip_byte(row: Response | Comment) -> None:
    sealed = bytearray(row.sealed)
    sealed[len(sealed) // 2] ^= 0x01
    row.sealed = bytes(sealed)


def _other_band(row: Response | Comment) -> None:
    assert isinstance(row, Response)
    row.band = "3y+" if row.band != "3y+" else "<1y"


def _other_unit(row: Response | Comment) -> None:
    row.unit_id = row.unit_id + 1  # the next unit of the organisation: another label


Tampering = Callable[[Response | Comment], None]
TAMPERING: dict[str, tuple[type[Response] | type[Comment], Tampering]] = {
    "flipped byte in an answer": (Response, _flip_byte),
    "answer moved to another band": (Response, _other_band),
    "answer moved to another unit": (Response, _other_unit),
    "flipped byte in a comment": (Comment, _flip_byte),
    "comment moved to another unit": (Comment, _other_unit),
}


def _tamper(app: Flask, round_id: int, how: str, count: int) -> list[bytes]:
    model, change = TAMPERING[how]
    with db.session_scope(app) as session:
        rows: list[Response | Comment] = list(
            session.scalars(select(model).where(model.round_id == round_id).limit(count))
        )
        assert len(rows) == count
        for row in rows:
            change(row)
        session.commit()
        return sorted(row.sealed for row in rows)


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_tampered_row_stops_the_release_with_its_count_and_label(
    app: Flask, open_round: OpenRound, how: str
) -> None:
    round_id = _closed_round(app, open_round)
    _tamper(app, round_id, how, 2)
    with pytest.raises(rounds.RoundError) as refused:
        step(app, round_id, "release")
    message = str(refused.value)
    kind = "response" if TAMPERING[how][0] is Response else "comment"
    assert "2 sealed rows failed the integrity check" in message
    assert f"{kind}" in message and "unit " in message and "--quarantine" in message
    assert round_status(app, round_id) == "closed", "nothing is released"
    with db.session_scope(app) as session:
        assert session.scalar(select(Release)) is None
        assert not session.scalars(select(QuarantinedRow)).all(), "nothing was set aside"


def test_swapped_between_rounds_is_refused(app: Flask, open_round: OpenRound) -> None:
    """A valid answer of another round, copied in under the same label, does not open."""
    from tests.services.ballots import open_next_round

    keep_sealed(app, open_round.round_id)  # the donor row must outlive its release
    round_id = _closed_round(app, open_round)
    step(app, round_id, "release")
    with db.session_scope(app) as session:
        donor = session.scalars(select(Response).where(Response.round_id == round_id)).first()
        assert donor is not None
        label, sealed = (donor.unit_id, donor.band), donor.sealed
    second, tokens = open_next_round(app, _program_of(app, round_id))
    for token in tokens:
        submit(app, second, token)
    step(app, second, "close")
    with db.session_scope(app) as session:
        target = session.scalars(
            select(Response).where(
                Response.round_id == second,
                Response.unit_id == label[0],
                Response.band == label[1],
            )
        ).first()
        assert target is not None
        target.sealed = sealed
        session.commit()
    with pytest.raises(rounds.RoundError, match="1 sealed row failed"):
        step(app, second, "release")


def _program_of(app: Flask, round_id: int) -> int:
    with db.session_scope(app) as session:
        return rounds.get_round(session, round_id).program_id


def test_quarantine_releases_without_them_and_keeps_them_sealed_aside(
    app: Flask, open_round: OpenRound
) -> None:
    keep_sealed(app, open_round.round_id)  # the rows are counted after the release
    round_id = _closed_round(app, open_round)
    with db.session_scope(app) as session:
        stored = session.query(Response).filter_by(round_id=round_id).count()
    tampered = _tamper(app, round_id, "flipped byte in an answer", 2) + _tamper(
        app, round_id, "comment moved to another unit", 1
    )
    result = app.test_cli_runner().invoke(
        args=["candor", "round", "release", str(round_id), "--quarantine"]
    )
    assert result.exit_code == 0, result.output
    assert "3 sealed row(s) that failed to open were set aside" in result.output
    with db.session_scope(app) as session:
        release = session.scalars(select(Release)).one()
        assert release.manifest["quarantined"] == 3
        root = next(u for u in release.manifest["units"] if u["parent"] is None)
        assert root["n"] == stored - 2, "the tampered answers are not counted"
        aside = session.scalars(select(QuarantinedRow)).all()
        assert sorted(q.sealed for q in aside) == sorted(tampered), "kept as they were"
        assert sorted(q.kind for q in aside) == ["comment", "response", "response"]
        assert session.query(Response).filter_by(round_id=round_id).count() == stored - 2
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == QUARANTINED))
        assert [e.detail for e in events] == [f"round={round_id} rows=3"]
    page = app.test_client().get(f"/privacy/rounds/{round_id}")
    assert page.status_code == 200
    assert "failed their integrity check" in page.text and "<strong>3</strong>" in page.text
    audit = app.test_cli_runner().invoke(args=["candor", "audit", str(round_id)])
    assert audit.exit_code == 0 and audit.output.startswith("PASS"), audit.output


def test_clean_release_says_nothing_was_set_aside(app: Flask, open_round: OpenRound) -> None:
    round_id = _closed_round(app, open_round)
    step(app, round_id, "release", quarantine=True)  # nothing fails: nothing is set aside
    with db.session_scope(app) as session:
        assert session.scalars(select(Release)).one().manifest["quarantined"] == 0
        assert not session.scalars(select(QuarantinedRow)).all()
    page = app.test_client().get(f"/privacy/rounds/{round_id}")
    assert "none; every one opened intact" in page.text
