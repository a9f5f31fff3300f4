"""Importing and exporting question banks: the service rules and ``candor bank``."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from survey import db
from survey.domain.bankfile import BankFileError, bank_to_csv, parse_bank_csv
from survey.domain.questions import load_bank
from survey.models import QuestionBankRecord
from survey.services import bankfiles, banks
from tests.bank_csv import BAD, GOOD
from tests.conftest import Org
from tests.helpers import open_round_on_bank


def test_import_stores_a_bank_get_bank_returns(app: Flask) -> None:
    with db.session_scope(app) as session:
        check = bankfiles.import_bank(session, GOOD)
        session.commit()
        assert banks.get_bank(session, "acme-v1") == check.bank == parse_bank_csv(GOOD)
        with pytest.raises(bankfiles.BankImportRefused) as refused:
            bankfiles.import_bank(session, GOOD)
        assert refused.value.replaceable
        bankfiles.import_bank(session, GOOD, replace=True)
        with pytest.raises(BankFileError):
            bankfiles.import_bank(session, BAD, replace=True)
        session.commit()
        assert session.query(QuestionBankRecord).count() == 1


def test_rounds_freeze_translations(app: Flask, organisation: Org) -> None:
    """A round keeps the bank, translations included, as it was when it opened."""
    with db.session_scope(app) as session:
        bankfiles.import_bank(session, GOOD)
        rnd = open_round_on_bank(app, session, organisation.program_id, "acme-v1")
        session.commit()
        frozen = banks.frozen_bank(rnd)
        assert frozen.item("m1").text_in("de") == "Ich habe Energie."
        assert bankfiles.rounds_using(session, "acme-v1") == 1
        with pytest.raises(bankfiles.BankImportRefused) as refused:
            bankfiles.import_bank(session, GOOD, replace=True)
        assert not refused.value.replaceable


def test_catalogue(app: Flask, organisation: Org) -> None:
    with db.session_scope(app) as session:
        bankfiles.import_bank(session, GOOD)
        entries = {e.key: e for e in bankfiles.catalogue(session)}
    assert list(entries) == ["core-v1", "acme-v1"]
    core = entries["core-v1"]
    assert core.shipped and core.programmes == ("Pulse",) and core.languages == ("en", "de")
    assert (core.themes, core.items) == (len(load_bank().themes), len(load_bank().items))
    assert not entries["acme-v1"].shipped and entries["acme-v1"].programmes == ()


def test_command_line_round_trip(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    source = tmp_path / "acme.csv"
    source.write_text(GOOD, encoding="utf-8")
    checked = runner.invoke(args=["candor", "bank", "import", str(source), "--check"])
    assert checked.exit_code == 0, checked.output
    assert "is a valid bank" in checked.output and "nothing was changed" in checked.output
    with db.session_scope(app) as session:
        assert session.query(QuestionBankRecord).count() == 0

    imported = runner.invoke(args=["candor", "bank", "import", str(source), "--key", "acme-v2"])
    assert imported.exit_code == 0, imported.output
    assert "Imported acme-v2: 2 themes, 3 items, in en, de" in imported.output
    assert "warning: Deutsch (de): no translation for" in imported.output

    again = runner.invoke(args=["candor", "bank", "import", str(source), "--key", "acme-v2"])
    assert again.exit_code != 0 and "--replace" in again.output

    exported = runner.invoke(args=["candor", "bank", "export", "acme-v2"])
    assert exported.exit_code == 0
    assert parse_bank_csv(exported.output) == parse_bank_csv(GOOD, "acme-v2")

    target = tmp_path / "core.csv"
    written = runner.invoke(args=["candor", "bank", "export", "core-v1", "-o", str(target)])
    assert written.exit_code == 0 and target.read_bytes().decode() == bank_to_csv(load_bank())
    refused = runner.invoke(args=["candor", "bank", "export", "core-v1", "-o", str(target)])
    assert refused.exit_code != 0 and "must not exist yet" in refused.output

    listed = runner.invoke(args=["candor", "bank", "list"])
    assert "core-v1" in listed.output and "acme-v2" in listed.output

    unknown = runner.invoke(args=["candor", "bank", "export", "nope"])
    assert unknown.exit_code != 0 and "unknown question bank" in unknown.output


def test_command_line_lists_problems(app: Flask, tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(BAD, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["candor", "bank", "import", str(source)])
    assert result.exit_code != 0
    assert "line 5 (scale): Unknown scale 'likert7'" in result.output
    assert (
        "line 5 (reverse)" in result.output and "2 problem(s); nothing was changed" in result.output
    )
