"""Question banks: the shipped ones and those an admin imported, and a round's frozen copy."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy.orm import Session

from ..domain.questions import Bank, BankError, bank_to_dict, load_bank, parse_bank
from ..models import QuestionBankRecord, Round


def get_bank(session: Session, key: str) -> Bank:
    """Return the bank called ``key``: an imported one if present, else a shipped one."""
    record = session.get(QuestionBankRecord, key)
    if record is not None:
        return parse_bank(record.definition)
    return load_bank(key)


# Parsed frozen banks per process, under the round's public key: 32 random bytes made when the
# round opened, together with its frozen items, so a key names exactly one frozen bank.
FROZEN_KEPT = 64
_frozen: OrderedDict[bytes, Bank] = OrderedDict()
_frozen_lock = threading.Lock()


def frozen_bank(rnd: Round) -> Bank:
    """Return the bank exactly as it was when the round opened (parsed once per process)."""
    if rnd.items is None:
        raise BankError(f"round {rnd.id} has not opened, so it has no questions yet")
    key = rnd.public_key
    if key is not None:
        with _frozen_lock:
            found = _frozen.get(key)
        if found is not None:
            return found
    definition: dict[str, Any] = rnd.items["definition"]
    bank = parse_bank(definition)
    if key is not None:
        with _frozen_lock:
            _frozen[key] = bank
            while len(_frozen) > FROZEN_KEPT:
                _frozen.popitem(last=False)
    return bank


def freeze(bank: Bank, asked: tuple[str, ...]) -> dict[str, Any]:
    """Return what a round stores at opening: the whole bank and the items it asks."""
    return {"bank": bank.key, "definition": bank_to_dict(bank), "asked": list(asked)}
