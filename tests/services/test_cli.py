"""Operating commands: clear refusals, audited link printing, a demo that spares real data."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from survey import create_app, db
from survey.models import AuditEvent, Program, Round
from tests.conftest import OpenRound, make_config


def invoke(app: Flask, *args: str, stdin: str | None = None) -> Any:
    return app.test_cli_runner().invoke(args=["candor", *args], input=stdin)


def test_init_checks_input_before_creating_anything(tmp_path: Any) -> None:
    app = create_app(make_config(tmp_path / "inst", f"sqlite:///{tmp_path}/c.db"), check_key=False)
    for args, stdin in (
        (["--admin-email", "not-an-address"], None),
        (["--password-stdin"], "short\n"),
    ):
        result = invoke(app, "init", *args, stdin=stdin)
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert not os.path.exists(app.config["KEY_FILE"])
    app.extensions["candor.engine"].dispose()


def test_printed_links_are_audited_and_strict_mode_forgets(
    app: Flask, open_round: OpenRound
) -> None:
    with db.session_scope(app) as session:
        session.query(Program).one().strict_links = True
        session.commit()
    result = invoke(app, "round", "links", str(open_round.round_id))
    assert result.exit_code == 0 and len(result.output.splitlines()) == len(open_round.tokens)
    for line in result.output.splitlines():  # email, fragment link, code, entry page
        email, url, code, entry = line.split("\t")
        assert code == open_round.tokens[email] and url == f"{entry}#{code}"
        assert entry == f"http://candor.test/s/{open_round.round_id}"
    with db.session_scope(app) as session:
        assert session.query(AuditEvent).filter_by(action="links_printed").count() == 1
        assert session.get(Round, open_round.round_id).wrapped_token_secret is None
    again = invoke(app, "round", "links", str(open_round.round_id))
    assert again.exit_code != 0 and "no link secret" in again.output


def test_demo_refuses_an_instance_with_real_data(app: Flask, open_round: OpenRound) -> None:
    result = invoke(app, "demo")
    assert result.exit_code != 0 and "not the demo" in result.output
    with db.session_scope(app) as session:
        assert session.query(Program).count() == 1
