"""Sealing answers and wrapping keys.

Invariants:
- An answer is padded to a fixed bucket, then sealed with HPKE (RFC 9180; X25519, HKDF-SHA256,
  AES-128-GCM) to its round's public key, with round, unit and band bound in ``info``. The
  ciphertext starts with a random ephemeral key, so it carries no time, counter or sender.
- A round's private key and its token secret are only ever stored wrapped (AES-256-GCM) by a
  key-encryption key passed in by the caller; nothing here reads files or configuration.
- Every failure (tampering, wrong key, wrong context, bad padding) raises :class:`CryptoError`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TOKEN_BYTES = 24  # 192 bits, shown as 32 URL-safe characters
RESPONSE_ID_BYTES = 16
WRAP_VERSION = b"\x01"
CANARY_PLAINTEXT = b"candor instance key canary v1"
# Plaintexts are padded up to the first bucket that fits, so ciphertext length reveals only
# the bucket (answers always fit the first; comments fall in one of a few sizes).
PAD_BUCKETS = (512, 2048, 8192)
COMMENT_BUCKET = PAD_BUCKETS[-1]  # every comment has the same length, whatever it says
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)


class CryptoError(Exception):
    """Raised for every failure to seal, open, wrap or unwrap."""


@dataclass(frozen=True)
class RoundKeys:
    """A round's key pair as raw bytes: the public key, and the private key wrapped."""

    public: bytes
    wrapped_private: bytes


def pad(plaintext: bytes, at_least: int = 0) -> bytes:
    """Return ``plaintext`` with a length prefix, zero-padded to the smallest bucket that fits.

    :param at_least: a minimum bucket size, so every blob of one kind has the same length.
    """
    body = len(plaintext).to_bytes(4, "big") + plaintext
    for bucket in PAD_BUCKETS:
        if len(body) <= bucket and bucket >= at_least:
            return body + bytes(bucket - len(body))
    raise CryptoError(f"plaintext of {len(plaintext)} bytes is larger than any padding bucket")


def unpad(padded: bytes) -> bytes:
    """Undo :func:`pad`, refusing anything that is not a well-formed bucket."""
    if len(padded) not in PAD_BUCKETS:
        raise CryptoError("padded plaintext has an unexpected length")
    size = int.from_bytes(padded[:4], "big")
    if size > len(padded) - 4 or any(padded[4 + size :]):
        raise CryptoError("padding is malformed")
    return padded[4 : 4 + size]


def context(kind: str, round_id: int, unit_id: int, band: str) -> bytes:
    """Return the HPKE ``info`` binding a sealed blob to where it was stored."""
    return f"candor/v1|{kind}|round={round_id}|unit={unit_id}|band={band}".encode()


def seal(plaintext: bytes, public_key: bytes, info: bytes, at_least: int = 0) -> bytes:
    """Pad and seal ``plaintext`` to a round's raw X25519 public key."""
    try:
        key = X25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise CryptoError("round public key is invalid") from exc
    return _SUITE.encrypt(pad(plaintext, at_least), key, info=info)


def open_sealed(blob: bytes, private_key: X25519PrivateKey, info: bytes) -> bytes:
    """Open a blob made by :func:`seal` and return the unpadded plaintext."""
    try:
        return unpad(_SUITE.decrypt(blob, private_key, info=info))
    except (InvalidTag, ValueError) as exc:
        raise CryptoError("sealed answer could not be opened") from exc


def wrap(secret: bytes, kek: bytes, label: bytes) -> bytes:
    """Encrypt ``secret`` under the key-encryption key, bound to ``label``."""
    if len(kek) != KEY_BYTES:
        raise CryptoError("key-encryption key must be 32 bytes")
    nonce = os.urandom(NONCE_BYTES)
    return WRAP_VERSION + nonce + AESGCM(kek).encrypt(nonce, secret, label)


def unwrap(blob: bytes, kek: bytes, label: bytes) -> bytes:
    """Decrypt a blob made by :func:`wrap`; any mismatch raises :class:`CryptoError`."""
    if len(kek) != KEY_BYTES or len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != WRAP_VERSION:
        raise CryptoError("wrapped key is malformed")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(kek).decrypt(nonce, body, label)
    except InvalidTag as exc:
        raise CryptoError("wrapped key could not be opened with this key") from exc


def key_label(round_id: int, what: str) -> bytes:
    """Return the label binding a wrapped key to its round and purpose."""
    return f"candor/round/{round_id}/{what}".encode()


def new_round_keys(kek: bytes, round_label: bytes) -> RoundKeys:
    """Generate a round key pair and return the public key and the wrapped private key."""
    private = X25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return RoundKeys(public, wrap(raw_private, kek, round_label))


def unwrap_private_key(wrapped: bytes, kek: bytes, round_label: bytes) -> X25519PrivateKey:
    """Return the round's private key from its wrapped form."""
    return X25519PrivateKey.from_private_bytes(unwrap(wrapped, kek, round_label))


def make_canary(kek: bytes) -> bytes:
    """Return a blob that only ``kek`` can open, stored at initialisation to check the key."""
    return wrap(CANARY_PLAINTEXT, kek, b"canary")


def check_canary(canary: bytes, kek: bytes) -> bool:
    """Return whether ``kek`` opens the canary written when the instance was created."""
    try:
        return hmac.compare_digest(unwrap(canary, kek, b"canary"), CANARY_PLAINTEXT)
    except CryptoError:
        return False


def new_token() -> str:
    """Return a fresh random invitation token (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def derive_token(round_secret: bytes, person_key: str) -> str:
    """Return the invitation token of one person for one round (HMAC-SHA256, 192 bits).

    The same secret and person give the same token, so a reminder can resend the same link;
    once the round secret is destroyed nobody can recompute it.
    """
    digest = hmac.new(round_secret, person_key.encode(), hashlib.sha256).digest()
    return _b64(digest[:TOKEN_BYTES])


def token_hash(token: str) -> bytes:
    """Return the value stored for a token: its SHA-256, so the database never holds a link."""
    return hashlib.sha256(token.encode()).digest()


def new_response_id() -> bytes:
    """Return a random 128-bit identifier: no order, no time."""
    return os.urandom(RESPONSE_ID_BYTES)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
