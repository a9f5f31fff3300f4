"""Question banks: the shipped ones and those an admin imported, and a round's frozen copy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..domain.questions import Bank, BankError, bank_to_dict, load_bank, parse_bank
from ..kept import Kept
from ..models import QuestionBankRecord, Round


def get_bank(session: Session, key: str) -> Bank:
    """Return the bank called ``key``: an imported one if present, else a shipped one."""
    record = session.get(QuestionBankRecord, key)
    if record is not None:
        return parse_bank(record.definition)
    return load_bank(key)


# Parsed frozen banks per process, under the round's public key: 32 random bytes made when the
# round opened, together with its frozen items, so a key names exactly one frozen bank.
_frozen: Kept[bytes, Bank] = Kept(64)


def frozen_bank(rnd: Round) -> Bank:
    """Return the bank exactly as it was when the round opened (parsed once per process)."""
    if rnd.items is None:
        raise BankError(f"round {rnd.id} has not opened, so it has no questions yet")
    definition: dict[str, Any] = rnd.items["definition"]
    if rnd.public_key is None:
        return parse_bank(definition)
    return _frozen.get_or_make(rnd.public_key, lambda: parse_bank(definition))


_FROZEN_ITEMS = select(Round.items).where(Round.id == bindparam("round_id"))


def frozen_bank_of(session: Session, round_id: int, public_key: bytes | None) -> Bank:
    """Return the frozen bank of round ``round_id`` whose public key is ``public_key``, as
    :func:`frozen_bank` does, reading its frozen items only when it is not kept."""

    def read() -> Bank:
        items = session.connection().execute(_FROZEN_ITEMS, {"round_id": round_id}).scalar()
        if items is None:
            raise BankError(f"round {round_id} has not opened, so it has no questions yet")
        return parse_bank(items["definition"])

    return read() if public_key is None else _frozen.get_or_make(public_key, read)


def freeze(bank: Bank, asked: tuple[str, ...]) -> dict[str, Any]:
    """Return what a round stores at opening: the whole bank and the items it asks."""
    return {"bank": bank.key, "definition": bank_to_dict(bank), "asked": list(asked)}
