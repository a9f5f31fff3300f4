"""Custodians on the command line: enrol, release with a quorum on stdin, leave and re-share."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from survey import db
from survey.models import Custodian, Custody, Program, RoundCustody
from tests.conftest import Org
from tests.services.ballots import open_next_round, round_status, step, submit

PEOPLE = {
    "ana@hr": "ana's long passphrase",
    "ben@wc": "ben's long passphrase",
    "cy@staff": "cy's long passphrase!",
}


def _lines(*labels: str, wrong: str = "") -> str:
    return "".join(f"{label}:{wrong or PEOPLE[label]}\n" for label in labels)


def _closed_custodian_round(app: Flask, organisation: Org, runner: FlaskCliRunner) -> int:
    with db.session_scope(app) as session:
        program = session.get(Program, organisation.program_id)
        assert program is not None
        program.custody = Custody.CUSTODIANS
        session.commit()
    for label, passphrase in PEOPLE.items():
        name = label.split("@")[0].capitalize()
        result = runner.invoke(
            args=[
                "candor",
                "custodian",
                "add",
                str(organisation.program_id),
                name,
                label,
                "--passphrase-stdin",
            ],
            input=passphrase + "\n",
        )
        assert result.exit_code == 0, result.output
    round_id, tokens = open_next_round(app, organisation.program_id)
    for token in tokens[:10]:
        submit(app, round_id, token)
    step(app, round_id, "close")
    return round_id


def test_release_takes_a_quorum_on_stdin(app: Flask, organisation: Org) -> None:
    runner = app.test_cli_runner()
    round_id = _closed_custodian_round(app, organisation, runner)
    release = ["candor", "round", "release", str(round_id), "--passphrase-stdin"]
    wrong = runner.invoke(args=release, input=_lines("ana@hr", wrong="not ana's passphrase"))
    assert wrong.exit_code == 1 and "given for Ana (ana@hr) does not open" in wrong.output
    short = runner.invoke(args=release, input=_lines("ben@wc"))
    assert short.exit_code == 1, short.output
    assert "stays closed and nothing is lost" in short.output
    assert "Still missing: Ana (ana@hr), Cy (cy@staff)" in short.output
    assert round_status(app, round_id) == "closed"
    done = runner.invoke(args=release, input=_lines("ben@wc", "cy@staff"))
    assert done.exit_code == 0 and "is released" in done.output, done.output
    assert round_status(app, round_id) == "released"


def test_a_prompted_quorum_releases(app: Flask, organisation: Org) -> None:
    runner = app.test_cli_runner()
    round_id = _closed_custodian_round(app, organisation, runner)
    # Ana skips (Enter), Ben mistypes and is told, Cy types hers: still one short.
    typed = f"\n{PEOPLE['cy@staff']}x\n{PEOPLE['cy@staff']}\n"
    result = runner.invoke(args=["candor", "round", "release", str(round_id)], input=typed)
    assert result.exit_code == 1 and "does not open" in result.output, result.output
    typed = f"{PEOPLE['ana@hr']}\n\n{PEOPLE['cy@staff']}\n"
    result = runner.invoke(args=["candor", "round", "release", str(round_id)], input=typed)
    assert result.exit_code == 0 and "is released" in result.output, result.output
    assert PEOPLE["ana@hr"] not in result.output


def test_a_leaving_custodian_is_reshared_out_on_the_command_line(
    app: Flask, organisation: Org
) -> None:
    runner = app.test_cli_runner()
    round_id = _closed_custodian_round(app, organisation, runner)
    program = str(organisation.program_id)
    with db.session_scope(app) as session:
        before = session.get(RoundCustody, round_id)
        assert before is not None
        wrapped = before.wrapped_private_key
    refused = runner.invoke(
        args=["candor", "custodian", "remove", program, "cy@staff", "--passphrase-stdin"],
        input=_lines("ana@hr"),
    )
    assert refused.exit_code == 1 and "Nothing was changed" in refused.output, refused.output
    left = runner.invoke(
        args=["candor", "custodian", "remove", program, "cy@staff", "--passphrase-stdin"],
        input=_lines("cy@staff", "ana@hr"),
    )
    assert left.exit_code == 0 and "1 unreleased round(s) re-shared" in left.output, left.output
    with db.session_scope(app) as session:
        after = session.get(RoundCustody, round_id)
        assert after is not None and after.wrapped_private_key != wrapped, "a new custody key"
        active = session.scalars(select(Custodian.label).where(Custodian.active)).all()
        assert sorted(active) == ["ana@hr", "ben@wc"]
    listed = runner.invoke(args=["candor", "custodian", "list", program])
    assert "cy@staff" not in listed.output and "quorum 2" in listed.output
    release = ["candor", "round", "release", str(round_id), "--passphrase-stdin"]
    gone = runner.invoke(args=release, input=_lines("cy@staff", "ana@hr"))
    assert gone.exit_code == 1 and "holds no share" not in gone.output  # skipped, not named
    assert "Still missing: Ben (ben@wc)" in gone.output, gone.output
    assert runner.invoke(args=release, input=_lines("ana@hr", "ben@wc")).exit_code == 0


def test_leaving_before_a_round_opens_needs_no_passphrase(app: Flask, organisation: Org) -> None:
    runner = app.test_cli_runner()
    round_id = _closed_custodian_round(app, organisation, runner)
    assert (
        runner.invoke(
            args=["candor", "round", "release", str(round_id), "--passphrase-stdin"],
            input=_lines("ana@hr", "ben@wc"),
        ).exit_code
        == 0
    )
    program = str(organisation.program_id)
    for label in ("cy@staff", "ben@wc"):  # they hold shares of released rounds only
        left = runner.invoke(args=["candor", "custodian", "remove", program, label])
        assert left.exit_code == 0 and "0 unreleased round(s)" in left.output, left.output
    assert runner.invoke(args=["candor", "round", "new", program]).exit_code == 0
    opened = runner.invoke(args=["candor", "round", "open", str(round_id + 1)])
    assert opened.exit_code == 1 and "quorum of 2 but has 1 custodian" in opened.output
