"""A programme with differential privacy on, released against a real database."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from survey import db
from survey.domain import manifest, noise
from survey.domain.disclosure import UNIFORM_TEXT
from survey.models import Person, Program, Release, Round
from survey.services import programs, rounds
from survey.services.release_audit import audit_release
from tests.conftest import Org
from tests.services.round_steps import DAY, answer_all, finish


def test_dp_release_draws_once_and_freezes_the_budget(app: Flask, organisation: Org) -> None:
    kek = app.extensions["candor.kek"]
    with db.session_scope(app) as session:
        program = session.get(Program, organisation.program_id)
        assert program is not None
        programs.save_program(
            session, program, programs.ProgramSettings(name="Pulse", dp_epsilon=2.0)
        )
        for n in range(40):  # 63 people: the organisation reaches noise.DP_MIN_N respondents
            session.add(
                Person(
                    email=f"x{n}@example.org",
                    name=f"Extra Person{n}",
                    unit_id=organisation.units["Alpha"],
                    tenure_band="3y+",
                )
            )
        rnd = rounds.create_round(session, program)
        rounds.open_round(session, rnd, kek, DAY)
        session.commit()
        round_id = rnd.id
        links = rounds.invitation_links(session, rnd, kek, "http://candor.test")
        tokens = [link.url.rsplit("#", 1)[1] for link in links]
        # Turning DP off now changes nothing for the open round: the budget froze at opening.
        programs.save_program(session, program, programs.ProgramSettings(name="Pulse"))
        session.commit()
    answer_all(app, round_id, tokens[::2], value=5)
    answer_all(app, round_id, tokens[1::2], value=1)
    release = finish(app, round_id)
    built = manifest.parse(release.manifest)
    assert built.noise is not None and built.noise.epsilon == 2.0
    assert built.noise.per_figure is not None and built.noise.per_figure < 2.0
    org = built.root
    assert org.n is not None and org.n >= noise.DP_MIN_N and org.noisy
    assert org.distributions is None and org.scale_quality is None
    noisy = [c for c in org.themes.values() if c.coded == noise.DP_TEXT]
    assert noisy and all(isinstance(c.mean, int) and c.ci_low is None for c in noisy)
    coded = [c for c in org.themes.values() if c.coded != noise.DP_TEXT]
    assert all(c.coded == UNIFORM_TEXT and c.mean is None for c in coded)  # from the noisy mean
    # The organisation (63) and Research (55) reach 50; Alpha (48) and Ops do not.
    assert {u.id for u in built.units if u.noisy} == {org.id, organisation.units["Research"]}
    with db.session_scope(app) as session:
        rnd_row = session.get(Round, round_id)
        assert rnd_row is not None and rnd_row.dp_epsilon == 2.0
        assert session.get(Program, organisation.program_id).dp_epsilon is None  # type: ignore[union-attr]
        stored = session.scalar(select(Release).where(Release.round_id == round_id))
        assert stored is not None
        assert audit_release(session, stored).startswith("PASS")
        stored_manifest = stored.manifest
    assert stored_manifest == release.manifest  # stored once: nothing redrawn
    client = app.test_client()
    assert "\u03b5 = 2.0 for this release" in client.get(f"/privacy/rounds/{round_id}").text
    assert "Budget spent: 2026: \u03b5 = 2.0." in client.get("/privacy").text


def test_an_unusable_budget_is_refused(app: Flask, organisation: Org) -> None:
    with db.session_scope(app) as session:
        program = session.get(Program, organisation.program_id)
        try:
            programs.save_program(
                session, program, programs.ProgramSettings(name="Pulse", dp_epsilon=0.0)
            )
        except programs.ProgramError as exc:
            assert exc.field == "dp_epsilon"
        else:
            raise AssertionError("a zero budget must be refused")


def test_cli_adds_a_programme_with_dp_on(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["candor", "program", "add", "Pulse DP", "--dp-epsilon", "0.5"])
    assert result.exit_code == 0, result.output
    refused = runner.invoke(args=["candor", "program", "add", "Pulse X", "--dp-epsilon", "-1"])
    assert refused.exit_code != 0 and "dp_epsilon" in refused.output
    with db.session_scope(app) as session:
        found = {p.name: p.dp_epsilon for p in session.scalars(select(Program))}
    assert found == {"Pulse DP": 0.5}
