"""Custody of a round's opening key: k-of-n shares among named custodians.

Invariants:

- A custodian is enrolled once with a passphrase: scrypt (N = :data:`SCRYPT_N` in production,
  r = 8, p = 1) turns it and a random salt into an X25519 private key, and only the public key
  is stored. So the server can seal a share to a custodian at any time (a round opening at a
  tick needs nobody present), and only that custodian's passphrase opens it.
- In custodian mode a round's private key is wrapped by a fresh 32-byte *custody key* that is
  never stored: it is split k-of-n with Shamir's scheme (pycryptodome's
  ``Crypto.Protocol.SecretSharing.Shamir``, which shares 16-byte secrets, so each half of the
  key is split on its own with the same share indices). Fewer than k shares say nothing about
  it; k shares rebuild it.
- Each share is sealed with HPKE to its custodian's public key, bound to round and custodian.
- Every failure raises :class:`CustodyError`; nothing here reads files, settings or a clock.
"""

from __future__ import annotations

import enum
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass

from Crypto.Protocol.SecretSharing import Shamir
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from . import crypto

SCRYPT_N = 2**17  # OWASP's scrypt minimum (N=2^17, r=8, p=1); tests pass a cheaper N
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HALF_BYTES = 16  # what Shamir in pycryptodome shares
MAX_CUSTODIANS = 255  # share indices are one byte
MIN_PASSPHRASE = 12
SHARE_BYTES = 1 + 2 * HALF_BYTES
LABEL_SEPARATOR = ":"  # "label:passphrase" lines, so no label may contain it


class Custody(enum.StrEnum):
    """What wraps the opening key of a programme's rounds (see survey/domain/custody.py)."""

    INSTANCE = "instance"  # the instance key: the operator alone can open a round
    CUSTODIANS = "custodians"  # k-of-n custodians' passphrases: the operator alone cannot


class CustodyError(Exception):
    """Raised for every failure to enrol, split, combine, seal or open a share."""


@dataclass(frozen=True)
class Enrolment:
    """What is stored of a custodian's passphrase: the salt, the cost and the public key."""

    salt: bytes
    cost: int
    public_key: bytes


@dataclass(frozen=True)
class Share:
    """One custodian's share of a custody key: its index and a share of each half."""

    index: int
    first: bytes
    second: bytes

    def to_bytes(self) -> bytes:
        """Return the share as one blob (index byte, then both halves)."""
        return bytes([self.index]) + self.first + self.second

    @classmethod
    def from_bytes(cls, blob: bytes) -> Share:
        """Parse a blob made by :meth:`to_bytes`."""
        if len(blob) != SHARE_BYTES or not blob[0]:
            raise CustodyError("a custody share is malformed")
        return cls(blob[0], blob[1 : 1 + HALF_BYTES], blob[1 + HALF_BYTES :])


def check_passphrase(passphrase: str) -> None:
    """Refuse a passphrase too short to stand up to guessing against a stolen database."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise CustodyError(f"a custodian passphrase needs at least {MIN_PASSPHRASE} characters")


def check_label(label: str) -> None:
    """Refuse a label that is empty or could not be told apart from its passphrase."""
    if not label.strip() or LABEL_SEPARATOR in label or label != label.strip():
        raise CustodyError(
            f"a custodian label (such as an email) must be non-empty, without "
            f"{LABEL_SEPARATOR!r} and without leading or trailing spaces"
        )


def _private_key(passphrase: str, salt: bytes, cost: int) -> X25519PrivateKey:
    try:
        seed = Scrypt(salt=salt, length=crypto.KEY_BYTES, n=cost, r=SCRYPT_R, p=SCRYPT_P).derive(
            passphrase.encode()
        )
    except (ValueError, MemoryError) as exc:
        raise CustodyError(f"the passphrase cannot be derived with cost {cost}") from exc
    return X25519PrivateKey.from_private_bytes(seed)


def _raw_public(private: X25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def enrol(passphrase: str, cost: int = SCRYPT_N) -> Enrolment:
    """Return what to store for a new custodian's passphrase."""
    check_passphrase(passphrase)
    salt = os.urandom(SALT_BYTES)
    return Enrolment(salt, cost, _raw_public(_private_key(passphrase, salt, cost)))


def unlock(passphrase: str, enrolment: Enrolment) -> X25519PrivateKey:
    """Return the custodian's private key, or raise :class:`CustodyError` for a wrong passphrase."""
    private = _private_key(passphrase, enrolment.salt, enrolment.cost)
    if not hmac.compare_digest(_raw_public(private), enrolment.public_key):
        raise CustodyError("the passphrase is wrong")
    return private


def new_custody_key() -> bytes:
    """Return a fresh custody key (it wraps one round's private key and is never stored)."""
    return os.urandom(crypto.KEY_BYTES)


def split(custody_key: bytes, quorum: int, holders: int) -> list[Share]:
    """Split ``custody_key`` into ``holders`` shares of which any ``quorum`` rebuild it."""
    if len(custody_key) != 2 * HALF_BYTES:
        raise CustodyError("a custody key is 32 bytes")
    if not 1 <= quorum <= holders <= MAX_CUSTODIANS:
        raise CustodyError(f"cannot split {quorum} of {holders}")
    first = Shamir.split(quorum, holders, custody_key[:HALF_BYTES])
    second = Shamir.split(quorum, holders, custody_key[HALF_BYTES:])
    return [Share(i, a, b) for (i, a), (j, b) in zip(first, second, strict=True) if i == j]


def combine(shares: Sequence[Share], quorum: int) -> bytes:
    """Rebuild a custody key from at least ``quorum`` distinct shares.

    A wrong share gives a wrong key, never an error here: the caller finds out when the key
    does not unwrap the round's private key (AES-GCM authenticates it).
    """
    distinct = {s.index: s for s in shares}
    if len(distinct) < quorum:
        raise CustodyError(f"{len(distinct)} share(s) given, {quorum} needed")
    chosen = list(distinct.values())
    first = Shamir.combine([(s.index, s.first) for s in chosen])
    second = Shamir.combine([(s.index, s.second) for s in chosen])
    return bytes(first) + bytes(second)


def share_context(round_id: int, custodian_id: int) -> bytes:
    """Return the HPKE ``info`` binding a sealed share to its round and custodian."""
    return f"candor/v1|custody-share|round={round_id}|custodian={custodian_id}".encode()


def seal_share(share: Share, public_key: bytes, info: bytes) -> bytes:
    """Seal a share to a custodian's public key."""
    try:
        return crypto.seal(share.to_bytes(), public_key, info)
    except crypto.CryptoError as exc:
        raise CustodyError(str(exc)) from exc


def open_share(blob: bytes, private: X25519PrivateKey, info: bytes) -> Share:
    """Open a share sealed by :func:`seal_share`."""
    try:
        return Share.from_bytes(crypto.open_sealed(blob, private, info))
    except crypto.CryptoError as exc:
        raise CustodyError("the share does not open with this custodian's key") from exc
