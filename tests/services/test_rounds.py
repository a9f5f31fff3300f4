"""The life of a round against a real database."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text, update
from sqlalchemy.exc import DatabaseError

from survey import db
from survey.domain import crypto
from survey.domain.disclosure import HIDDEN_TEXT
from survey.models import (
    Comment,
    InboxEntry,
    Invitation,
    OrgUnit,
    Person,
    Program,
    Release,
)
from survey.services import rounds, submission
from survey.services.participation import participation_today
from survey.services.release_audit import audit_release
from tests.conftest import OpenRound, Org, answers_for
from tests.helpers import keep_sealed
from tests.services.round_steps import DAY, answer_all, finish


def test_state_machine_refuses_skips(app: Flask, organisation: Org) -> None:
    kek = app.extensions["candor.kek"]
    with db.session_scope(app) as session:
        rnd = rounds.create_round(session, session.get(Program, organisation.program_id))
        with pytest.raises(rounds.RoundError, match="not open"):
            rounds.close_round(session, rnd, DAY)
        with pytest.raises(rounds.RoundError, match="only a closed round"):
            rounds.release_round(session, rnd, kek, DAY)
        rounds.open_round(session, rnd, kek, DAY)
        with pytest.raises(rounds.RoundError, match="only a draft round"):
            rounds.open_round(session, rnd, kek, DAY)


def test_close_destroys_links_and_secret(app: Flask, open_round: OpenRound) -> None:
    tokens = list(open_round.tokens.values())
    answer_all(app, open_round.round_id, tokens[:3])
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, open_round.round_id)
        rounds.close_round(session, rnd, DAY)
        session.commit()
        assert rnd.wrapped_token_secret is None
        assert session.query(Invitation).count() == 0
        with pytest.raises(rounds.RoundError):
            rounds.invitation_links(session, rnd, app.extensions["candor.kek"], "http://x")
    with app.app_context(), pytest.raises(submission.RoundNotOpen):
        submission.survey_for(db.get_session(), open_round.round_id)


def test_invitations_store_no_person(app: Flask, open_round: OpenRound) -> None:
    with db.session_scope(app) as session:
        hashes = {row.token_hash for row in session.query(Invitation)}
    assert {crypto.token_hash(t) for t in open_round.tokens.values()} == hashes
    assert all(len(h) == 32 for h in hashes)


# The releases' immutability trigger as migrations 0002 and 0008 make it.
IMMUTABLE_TRIGGER = {
    "postgresql": "CREATE TRIGGER releases_immutable BEFORE UPDATE ON releases "
    "FOR EACH ROW EXECUTE FUNCTION candor_release_immutable()",
    "sqlite": "CREATE TRIGGER releases_immutable BEFORE UPDATE ON releases "
    "BEGIN SELECT RAISE(ABORT, 'released manifests are immutable'); END",
}


def _rewrite_release(app: Flask, release_id: int, **values: Any) -> None:
    """Change a stored release past its immutability trigger, dropped and put back in the
    same transaction (on PostgreSQL this worker's schema outlives the test)."""
    with db.session_scope(app) as session:
        dialect = session.get_bind().dialect.name
        on = " ON releases" if dialect == "postgresql" else ""
        session.execute(text("DROP TRIGGER releases_immutable" + on))
        session.execute(update(Release).where(Release.id == release_id).values(**values))
        session.execute(text(IMMUTABLE_TRIGGER[dialect]))
        session.commit()


def test_release_is_immutable_and_audited(app: Flask, open_round: OpenRound) -> None:
    answer_all(app, open_round.round_id, list(open_round.tokens.values()))
    release = finish(app, open_round.round_id)
    with db.session_scope(app) as session:
        assert audit_release(session, session.get(Release, release.id)).startswith("PASS")
        with pytest.raises(DatabaseError):
            session.execute(update(Release).values(digest="0" * 64))
            session.flush()
        session.rollback()
    with db.session_scope(app) as session:
        with pytest.raises(rounds.RoundError):
            rounds.release_round(
                session,
                rounds.get_round(session, open_round.round_id),
                app.extensions["candor.kek"],
                DAY,
            )


def test_tampered_manifest_fails_audit(app: Flask, open_round: OpenRound) -> None:
    answer_all(app, open_round.round_id, list(open_round.tokens.values()))
    release = finish(app, open_round.round_id)
    manifest = json.loads(json.dumps(release.manifest))
    manifest["units"][0]["n"] += 1
    _rewrite_release(app, release.id, manifest=manifest)  # as someone holding the database
    with db.session_scope(app) as session:
        assert audit_release(session, session.get(Release, release.id)).startswith("FAIL")
        with pytest.raises(DatabaseError):  # the trigger is back
            session.execute(update(Release).values(digest="0" * 64))
            session.flush()
        session.rollback()


def _second_round(app: Flask, organisation: Org) -> Release:
    """Open round 2 of the organisation as it is now, have everyone answer, close and
    release it."""
    with db.session_scope(app) as session:
        rnd2 = rounds.create_round(session, session.get(Program, organisation.program_id))
        rounds.open_round(session, rnd2, app.extensions["candor.kek"], DAY + dt.timedelta(days=14))
        session.commit()
        links = rounds.invitation_links(session, rnd2, app.extensions["candor.kek"], "http://x")
        round2 = rnd2.id
    answer_all(app, round2, [link.url.rsplit("#", 1)[1] for link in links])
    return finish(app, round2)


def _leave_beta(app: Flask, organisation: Org, people: int = 1) -> None:
    """Let ``people`` of Beta's 7 leave (made inactive on the roster)."""
    with db.session_scope(app) as session:
        beta = organisation.units["Beta"]
        for leaver in session.query(Person).filter(Person.unit_id == beta).limit(people):
            leaver.active = False
        session.commit()


def _round_two_released_first(app: Flask, open_round: OpenRound, organisation: Org) -> Release:
    """Answer and close round 1 without releasing it, let one person leave Beta (7 -> 6),
    then open, answer, close and release round 2; return round 2's release."""
    answer_all(app, open_round.round_id, list(open_round.tokens.values()))
    with db.session_scope(app) as session:
        rounds.close_round(session, rounds.get_round(session, open_round.round_id), DAY)
        session.commit()
    _leave_beta(app, organisation)
    return _second_round(app, organisation)


def _release_closed(app: Flask, round_id: int) -> Release:
    """Release a closed round and commit."""
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, round_id)
        release = rounds.release_round(session, rnd, app.extensions["candor.kek"], DAY)
        session.commit()
        return release


def _second_programme(app: Flask, organisation: Org, name: str, k: int) -> Org:
    """Add a programme over the same roster, with the same questions; return it as an Org."""
    with db.session_scope(app) as session:
        other = Program(name=name, k=k, comment_k=10)
        session.add(other)
        session.commit()
        return Org(organisation.units, other.id)


def _exact(release: Release) -> list[int]:
    return [u["id"] for u in release.manifest["units"] if u["shown"] and not u.get("coarse")]


@pytest.mark.parametrize("kept_days", [0, 7], ids=["shredded", "answers-kept"])
def test_a_release_without_counts_is_not_taken_as_everyone_answering(
    app: Flask, open_round: OpenRound, organisation: Org, kept_days: int
) -> None:
    """Round 1's respondents per atom are gone from its release. While its answers are kept,
    round 2 counts them from there and publishes as it would have; once they are shredded,
    nothing bounds what round 1's exact cells could be differenced against, so no cell of
    round 2 over its people is exact (coarsened or hidden instead)."""
    with db.session_scope(app) as session:
        session.get(Program, organisation.program_id).retention_days = kept_days
        session.commit()
    answer_all(app, open_round.round_id, list(open_round.tokens.values()))
    first = finish(app, open_round.round_id)
    assert _exact(first)
    # Stored as a release made before 0008 (or after a downgrade below it) is: no counts.
    _rewrite_release(app, first.id, atom_counts=None)
    second = _second_round(app, organisation)
    if kept_days:
        assert _exact(second) == _exact(first)
    else:
        assert _exact(second) == []
        assert any(u["shown"] and u.get("coarse") for u in second.manifest["units"])


def test_participation_is_daily_and_rounded(app: Flask, open_round: OpenRound) -> None:
    tokens = list(open_round.tokens.values())  # 23 invited, k = 5: steps of 25 %
    answer_all(app, open_round.round_id, tokens[:3])
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, open_round.round_id)
        assert participation_today(session, rnd, DAY - dt.timedelta(days=1)) is None
        session.commit()
    answer_all(app, open_round.round_id, tokens[3:7])
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, open_round.round_id)
        first = participation_today(session, rnd, DAY)
        session.commit()
    assert first == 25  # 7 of 23 is 30 %, shown in steps no finer than k people
    answer_all(app, open_round.round_id, tokens[7:20])
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, open_round.round_id)
        assert participation_today(session, rnd, DAY) == first  # same day: unchanged
        later = participation_today(session, rnd, DAY + dt.timedelta(days=1))
        assert later is not None and later > first


def test_lowered_k_and_reorg_affect_only_future_rounds(
    app: Flask, open_round: OpenRound, organisation: Org
) -> None:
    answer_all(app, open_round.round_id, list(open_round.tokens.values()))
    with db.session_scope(app) as session:
        program = session.get(Program, organisation.program_id)
        program.k = 3  # lowered while round 1 is open: round 1 keeps k = 5
        session.commit()
    release = finish(app, open_round.round_id)
    assert release.manifest["k"] == 5
    before = json.dumps(release.manifest, sort_keys=True)
    with db.session_scope(app) as session:  # a re-org after release
        unit = session.get(OrgUnit, organisation.units["Small"])
        unit.parent_id = organisation.units["Research"]
        session.commit()
    with db.session_scope(app) as session:
        assert json.dumps(session.get(Release, release.id).manifest, sort_keys=True) == before
        rnd2 = rounds.create_round(session, session.get(Program, organisation.program_id))
        rounds.open_round(session, rnd2, app.extensions["candor.kek"], DAY + dt.timedelta(days=14))
        session.commit()
        assert rnd2.k == 3
        assert (
            rnd2.snapshot["units"][str(organisation.units["Small"])]["parent"]
            == organisation.units["Research"]
        )


def test_churn_guard_hides_unit_next_round(
    app: Flask, open_round: OpenRound, organisation: Org
) -> None:
    tokens = list(open_round.tokens.values())
    answer_all(app, open_round.round_id, tokens)
    first = finish(app, open_round.round_id)
    beta = organisation.units["Beta"]
    assert next(u for u in first.manifest["units"] if u["id"] == beta)["shown"]
    with db.session_scope(app) as session:  # one person leaves Beta (7 -> 6)
        leaver = session.query(Person).filter(Person.unit_id == beta).first()
        leaver.active = False
        session.commit()
    second = _second_round(app, organisation)
    beta_row = next(u for u in second.manifest["units"] if u["id"] == beta)
    assert not beta_row["shown"] and beta_row["reason"] == HIDDEN_TEXT
    assert "n" not in beta_row


def test_a_round_released_after_a_later_one_is_checked_against_it(
    app: Flask, open_round: OpenRound, organisation: Org
) -> None:
    """Releases need not come in the rounds' order: round 1's custodians may be away while
    round 2 is released. Round 1 is then checked against round 2 all the same; otherwise
    Beta's 7 in round 1 and its 6 in round 2 would both be exact, and their difference would
    be what the leaver said."""
    beta = organisation.units["Beta"]
    second = _round_two_released_first(app, open_round, organisation)
    assert next(u for u in second.manifest["units"] if u["id"] == beta)["shown"]
    first = _release_closed(app, open_round.round_id)
    beta_row = next(u for u in first.manifest["units"] if u["id"] == beta)
    assert not beta_row["shown"] and beta_row["reason"] == HIDDEN_TEXT
    assert "n" not in beta_row


def test_the_audit_finds_a_release_made_without_the_releases_before_it(
    app: Flask, open_round: OpenRound, organisation: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before releases were checked across programmes and out of order, round 1 released
    after round 2 was checked against nothing. `candor audit` re-checks a release against
    every release made before it, and says so."""
    beta = organisation.units["Beta"]
    second = _round_two_released_first(app, open_round, organisation)
    with monkeypatch.context() as old:  # as releases were made before: no history
        old.setattr(rounds, "_history", lambda session, rnd, before=None: ([], {}))
        first = _release_closed(app, open_round.round_id)
    assert next(u for u in first.manifest["units"] if u["id"] == beta)["shown"]
    with db.session_scope(app) as session:
        late = audit_release(session, session.get(Release, first.id))
        made_first = audit_release(session, session.get(Release, second.id))
    assert late.startswith("FAIL: with the 1 release(s) made before it,"), late
    assert "(the first: Lab)" in late and "fewer than 5 people" in late
    assert made_first.startswith("PASS") and "checked against" not in made_first
    cli = app.test_cli_runner()
    everything = cli.invoke(args=["candor", "audit", "--all"])  # as after an upgrade
    assert everything.exit_code == 1
    assert everything.output.splitlines() == [
        f"round {second.round_id}: {made_first}",
        f"round {open_round.round_id}: {late}",
    ]
    unsaid = cli.invoke(args=["candor", "audit"])
    assert unsaid.exit_code != 0 and "or give --all" in unsaid.output


def test_a_second_programme_is_checked_against_the_first(
    app: Flask, open_round: OpenRound, organisation: Org
) -> None:
    """Two programmes over one roster, with the same questions: a round of the second after
    someone left Beta is checked against the first's release, as a later round of the same
    programme would be. Otherwise an admin could start a programme to difference it."""
    answer_all(app, open_round.round_id, list(open_round.tokens.values()))
    first = finish(app, open_round.round_id)
    beta = organisation.units["Beta"]
    assert next(u for u in first.manifest["units"] if u["id"] == beta)["shown"]
    _leave_beta(app, organisation)  # 7 -> 6
    second = _second_round(app, _second_programme(app, organisation, "Pulse again", 5))
    beta_row = next(u for u in second.manifest["units"] if u["id"] == beta)
    assert not beta_row["shown"] and beta_row["reason"] == HIDDEN_TEXT
    assert "n" not in beta_row


def test_a_programme_with_a_lower_k_keeps_the_first_programme_s_k(
    app: Flask, open_round: OpenRound, organisation: Org
) -> None:
    """The first programme (k = 5) published Beta's 7. Three leave; a second programme with
    k = 3 would publish Beta's 4, and the difference would describe the three who left:
    fewer than the 5 the first release promised. Beta is not published exactly."""
    answer_all(app, open_round.round_id, list(open_round.tokens.values()))
    finish(app, open_round.round_id)
    beta = organisation.units["Beta"]
    _leave_beta(app, organisation, 3)  # 7 -> 4
    second = _second_round(app, _second_programme(app, organisation, "Pulse, k = 3", 3))
    assert second.manifest["k"] == 3
    beta_row = next(u for u in second.manifest["units"] if u["id"] == beta)
    assert not beta_row["shown"] and "n" not in beta_row


def test_physical_order_does_not_follow_arrival(app: Flask, open_round: OpenRound) -> None:
    """Mixed storage keeps neither the ids nor the order in which ballots arrived."""
    keep_sealed(app, open_round.round_id)  # stored rows are read after the release
    tokens = list(open_round.tokens.values())
    arrival: list[bytes] = []
    for token in tokens:
        answer_all(app, open_round.round_id, [token])
        with db.session_scope(app) as session:
            known = {r.id for r in session.query(InboxEntry) if r.kind == "response"}
        arrival.append(next(i for i in known if i not in arrival))
    finish(app, open_round.round_id)
    with db.session_scope(app) as session:
        if session.get_bind().dialect.name == "postgresql":
            query = "SELECT id FROM responses ORDER BY ctid"
        else:
            query = "SELECT id FROM responses"
        stored = [row[0] for row in session.execute(text(query))]
        assert session.query(InboxEntry).count() == 0
    assert len(stored) == len(arrival)
    assert not set(stored) & set(arrival)  # fresh ids at every mix


def test_stored_labels_each_cover_k_invited(app: Flask, open_round: OpenRound) -> None:
    """No invitation, response or comment row carries a label fewer than k people share."""
    from collections import Counter

    answers = {
        k.removeprefix("q_"): int(v) for k, v in answers_for(app, open_round.round_id).items()
    }
    with app.app_context():
        session = db.get_session()
        labels = Counter((i.unit_id, i.band) for i in session.query(Invitation))
        survey = submission.survey_for(session, open_round.round_id)
        for token in open_round.tokens.values():
            submission.submit(
                session, survey, token, answers, "a comment", app.extensions["candor.kek"]
            )
        session.commit()
        comment_units = {c.unit_id for c in session.query(Comment)}
    assert all(count >= 5 for count in labels.values()), labels
    small = open_round.units["Small"]
    assert small not in {unit for unit, _ in labels}
    # Comments are kept at department level or above, as they are published.
    assert comment_units <= {open_round.units[n] for n in ("Lab", "Research", "Ops")}
