"""Question banks as files: what exists, checking an import, importing and exporting.

Invariants: an import either stores the whole bank or nothing; a bank key a round has used is
never overwritten (every round keeps its own frozen copy regardless, but a key should mean one
bank in every report), a shipped key is never shadowed, and an unused imported key is replaced
only when the caller says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.bankcheck import bank_warnings, min_rotation
from ..domain.bankfile import bank_to_csv, parse_bank_csv
from ..domain.questions import Bank, bank_to_dict, shipped_bank_keys
from ..models import Program, QuestionBankRecord, Round
from . import banks


class BankImportRefused(Exception):
    """The file is a valid bank but may not be stored under its key.

    ``replaceable`` is set when only the caller's consent is missing: the key belongs to an
    imported bank that no round has used.
    """

    def __init__(self, message: str, replaceable: bool = False) -> None:
        super().__init__(message)
        self.replaceable = replaceable


@dataclass(frozen=True)
class BankEntry:
    """One bank on the banks page."""

    key: str
    shipped: bool
    themes: int
    items: int
    languages: tuple[str, ...]
    rounds: int
    programmes: tuple[str, ...]


@dataclass(frozen=True)
class ImportCheck:
    """A parsed file and what importing it would do."""

    bank: Bank
    warnings: tuple[str, ...]
    min_rotation: int | None
    exists: bool  # an imported bank has this key already
    rounds: int  # rounds that have used the key
    programmes: tuple[str, ...]  # programmes that name the key

    @property
    def refusal(self) -> str:
        """Return why the bank cannot be stored under its key, or ''."""
        key = self.bank.key
        if key in shipped_bank_keys():
            return (
                f"{key} is a bank shipped with Candor and cannot be replaced; import yours under "
                "another key."
            )
        if self.rounds:
            return (
                f"The bank {key} has been used by {self.rounds} round(s), so it cannot be "
                "replaced: those rounds keep the copy they froze when they opened, and a key "
                "should mean one bank in every report. Import the new version under a new key "
                "(such as a -v2 suffix) and point the programme at it."
            )
        return ""


def rounds_using(session: Session, key: str) -> int:
    """Return how many rounds have frozen the bank called ``key``."""
    # Few rounds exist and JSON queries differ between SQLite and PostgreSQL: filter here.
    frozen = session.scalars(select(Round.items))
    return sum(1 for items in frozen if items and items.get("bank") == key)


def _programmes_using(session: Session, key: str) -> tuple[str, ...]:
    return tuple(
        session.scalars(select(Program.name).where(Program.bank == key).order_by(Program.name))
    )


def catalogue(session: Session) -> list[BankEntry]:
    """Return every bank, shipped ones first, each with where it is used."""
    imported = {r.key for r in session.scalars(select(QuestionBankRecord))}
    keys = [k for k in shipped_bank_keys() if k not in imported] + sorted(imported)
    entries = []
    for key in keys:
        bank = banks.get_bank(session, key)
        entries.append(
            BankEntry(
                key=key,
                shipped=key not in imported,
                themes=len(bank.themes),
                items=len(bank.items),
                languages=bank.languages,
                rounds=rounds_using(session, key),
                programmes=_programmes_using(session, key),
            )
        )
    return entries


def check_import(session: Session, text: str, key: str | None = None) -> ImportCheck:
    """Parse a bank file and say what importing it would do; change nothing.

    Raises :class:`~survey.domain.bankfile.BankFileError` listing every problem of the file.
    """
    bank = parse_bank_csv(text, key)
    return ImportCheck(
        bank=bank,
        warnings=bank_warnings(bank),
        min_rotation=min_rotation(bank),
        exists=session.get(QuestionBankRecord, bank.key) is not None,
        rounds=rounds_using(session, bank.key),
        programmes=_programmes_using(session, bank.key),
    )


def import_bank(
    session: Session, text: str, key: str | None = None, replace: bool = False
) -> ImportCheck:
    """Store the bank a file describes; the caller commits.

    Raises :class:`~survey.domain.bankfile.BankFileError` for an invalid file and
    :class:`BankImportRefused` when the key is shipped, used by a round, or taken and
    ``replace`` is not set.
    """
    check = check_import(session, text, key)
    if check.refusal:
        raise BankImportRefused(check.refusal)
    record = session.get(QuestionBankRecord, check.bank.key)
    if record is not None and not replace:
        raise BankImportRefused(
            f"A bank called {check.bank.key} exists already and no round has used it yet; "
            "confirm that it should be replaced.",
            replaceable=True,
        )
    if record is None:
        session.add(QuestionBankRecord(key=check.bank.key, definition=bank_to_dict(check.bank)))
    else:
        record.definition = bank_to_dict(check.bank)
    session.flush()
    return check


def export_csv(session: Session, key: str) -> str:
    """Return the bank called ``key`` as a CSV file; raise BankError if there is none."""
    return bank_to_csv(banks.get_bank(session, key))
