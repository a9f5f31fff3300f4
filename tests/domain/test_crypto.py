"""Tests for sealing, padding, key wrapping and invitation tokens."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from survey.domain.crypto import (
    COMMENT_BUCKET,
    KEY_BYTES,
    PAD_BUCKETS,
    RESPONSE_ID_BYTES,
    CryptoError,
    check_canary,
    context,
    derive_token,
    make_canary,
    new_response_id,
    new_round_keys,
    new_token,
    open_sealed,
    pad,
    seal,
    token_hash,
    unpad,
    unwrap,
    unwrap_private_key,
    wrap,
)

KEK = bytes(range(32))
OTHER_KEK = bytes(range(1, 33))
LABEL = b"round=1|private"
INFO = context("response", 1, 2, "3y+")
ANSWER = b'{"answers":{"mor1":4,"nps1":9}}'


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, X25519PrivateKey]:
    """Return a round's public key and its (unwrapped) private key."""
    round_keys = new_round_keys(KEK, LABEL)
    return round_keys.public, unwrap_private_key(round_keys.wrapped_private, KEK, LABEL)


# --- padding ------------------------------------------------------------------------------------

LARGEST = PAD_BUCKETS[-1] - 4


@pytest.mark.parametrize(
    ("size", "bucket"),
    [
        (0, 512),
        (1, 512),
        (100, 512),
        (508, 512),
        (509, 2048),
        (2044, 2048),
        (2045, 8192),
        (LARGEST, 8192),
    ],
)
def test_pad_round_trip(size: int, bucket: int) -> None:
    plaintext = os.urandom(size)
    padded = pad(plaintext)
    assert len(padded) == bucket
    assert unpad(padded) == plaintext


@pytest.mark.parametrize("size", [0, 1, 50, 500, 508, 509, 2000, LARGEST])
def test_pad_comment_bucket_regardless_of_length(size: int) -> None:
    padded = pad(b"x" * size, at_least=COMMENT_BUCKET)
    assert len(padded) == COMMENT_BUCKET
    assert unpad(padded) == b"x" * size


def test_pad_too_large() -> None:
    with pytest.raises(CryptoError, match="larger than any padding bucket"):
        pad(bytes(LARGEST + 1))


@pytest.mark.parametrize(
    "padded",
    [
        pytest.param(b"", id="empty"),
        pytest.param(bytes(511), id="short-of-bucket"),
        pytest.param(bytes(513), id="over-bucket"),
        pytest.param((600).to_bytes(4, "big") + bytes(508), id="length-beyond-bucket"),
        pytest.param((509).to_bytes(4, "big") + bytes(508), id="length-one-too-many"),
        pytest.param((3).to_bytes(4, "big") + b"abc" + b"\x01" + bytes(504), id="nonzero-tail"),
        pytest.param((0).to_bytes(4, "big") + bytes(507) + b"\x01", id="nonzero-last-byte"),
        pytest.param(b"\xff" * 512, id="all-ones"),
    ],
)
def test_unpad_rejects_malformed(padded: bytes) -> None:
    with pytest.raises(CryptoError):
        unpad(padded)


# --- sealing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plaintext",
    [b"", b"x", ANSWER, os.urandom(400), os.urandom(3000)],
    ids=["empty", "one", "answer", "400", "3000"],
)
def test_seal_open_round_trip(keys: tuple[bytes, X25519PrivateKey], plaintext: bytes) -> None:
    public, private = keys
    blob = seal(plaintext, public, INFO)
    assert open_sealed(blob, private, INFO) == plaintext


def test_seal_is_randomised(keys: tuple[bytes, X25519PrivateKey]) -> None:
    public, _ = keys
    assert seal(ANSWER, public, INFO) != seal(ANSWER, public, INFO)


def test_answers_all_have_one_length(keys: tuple[bytes, X25519PrivateKey]) -> None:
    public, _ = keys
    answers = [b"{}", ANSWER, b'{"answers":{' + b'"saf1":5,' * 20 + b"}}"]
    lengths = {len(seal(a, public, INFO)) for a in answers}
    assert len(lengths) == 1


def test_comments_all_have_one_length(keys: tuple[bytes, X25519PrivateKey]) -> None:
    public, private = keys
    info = context("comment", 1, 2, "")
    texts = [b"", b"ok", b"a" * 100, b"b" * 1000, b"c" * 5000, b"d" * LARGEST]
    blobs = [seal(t, public, info, at_least=COMMENT_BUCKET) for t in texts]
    assert len({len(b) for b in blobs}) == 1
    assert [open_sealed(b, private, info) for b in blobs] == texts


def test_tampering_any_byte_is_detected(keys: tuple[bytes, X25519PrivateKey]) -> None:
    public, private = keys
    blob = seal(ANSWER, public, INFO)
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(CryptoError):
            open_sealed(bytes(tampered), private, INFO)


@pytest.mark.parametrize(
    "blob_change",
    [
        pytest.param(lambda b: b[:-1], id="truncated"),
        pytest.param(lambda b: b + b"\x00", id="extended"),
        pytest.param(lambda b: b[:32], id="only-encapsulated-key"),
        pytest.param(lambda b: b"", id="empty"),
        pytest.param(lambda b: b[32:] + b[:32], id="rotated"),
    ],
)
def test_malformed_blob_is_detected(keys: tuple[bytes, X25519PrivateKey], blob_change) -> None:
    public, private = keys
    blob = seal(ANSWER, public, INFO)
    with pytest.raises(CryptoError):
        open_sealed(blob_change(blob), private, INFO)


def test_wrong_private_key(keys: tuple[bytes, X25519PrivateKey]) -> None:
    public, _ = keys
    blob = seal(ANSWER, public, INFO)
    with pytest.raises(CryptoError):
        open_sealed(blob, X25519PrivateKey.generate(), INFO)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(context("response", 2, 2, "3y+"), id="other-round"),
        pytest.param(context("response", 1, 3, "3y+"), id="other-unit"),
        pytest.param(context("response", 1, 2, "<1y"), id="other-band"),
        pytest.param(context("comment", 1, 2, "3y+"), id="other-kind"),
        pytest.param(b"", id="empty-info"),
    ],
)
def test_wrong_info(keys: tuple[bytes, X25519PrivateKey], other: bytes) -> None:
    public, private = keys
    blob = seal(ANSWER, public, INFO)
    with pytest.raises(CryptoError):
        open_sealed(blob, private, other)


def test_context_binds_every_field() -> None:
    variants = {
        context("response", 1, 2, "a"),
        context("comment", 1, 2, "a"),
        context("response", 9, 2, "a"),
        context("response", 1, 9, "a"),
        context("response", 1, 2, "b"),
    }
    assert len(variants) == 5


@pytest.mark.parametrize("public", [b"", bytes(31), bytes(33)])
def test_seal_rejects_bad_public_key(public: bytes) -> None:
    with pytest.raises(CryptoError, match="public key is invalid"):
        seal(ANSWER, public, INFO)


# --- wrapping -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret", [b"", b"s", os.urandom(32), os.urandom(1000)], ids=["empty", "one", "32", "1000"]
)
def test_wrap_round_trip(secret: bytes) -> None:
    blob = wrap(secret, KEK, LABEL)
    if len(secret) >= 16:
        assert secret not in blob
    assert unwrap(blob, KEK, LABEL) == secret


@pytest.mark.parametrize(
    ("kek", "label"),
    [
        pytest.param(OTHER_KEK, LABEL, id="wrong-kek"),
        pytest.param(KEK, b"round=2|private", id="wrong-label"),
        pytest.param(KEK, b"", id="empty-label"),
        pytest.param(KEK[:16], LABEL, id="short-kek"),
        pytest.param(KEK + b"\x00", LABEL, id="long-kek"),
    ],
)
def test_unwrap_with_wrong_kek_or_label(kek: bytes, label: bytes) -> None:
    blob = wrap(b"secret", KEK, LABEL)
    with pytest.raises(CryptoError):
        unwrap(blob, kek, label)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda b: b"\x02" + b[1:], id="version"),
        pytest.param(lambda b: b[:20], id="truncated"),
        pytest.param(lambda b: b"", id="empty"),
        pytest.param(lambda b: b[:-1] + bytes([b[-1] ^ 1]), id="tag-flipped"),
        pytest.param(lambda b: b[:5] + bytes([b[5] ^ 1]) + b[6:], id="nonce-flipped"),
    ],
)
def test_unwrap_rejects_tampering(change) -> None:
    blob = wrap(b"secret", KEK, LABEL)
    with pytest.raises(CryptoError):
        unwrap(change(blob), KEK, LABEL)


def test_wrap_rejects_bad_kek() -> None:
    with pytest.raises(CryptoError, match="32 bytes"):
        wrap(b"secret", bytes(KEY_BYTES - 1), LABEL)


def test_round_keys_unwrap_only_with_their_label() -> None:
    round_keys = new_round_keys(KEK, LABEL)
    assert len(round_keys.public) == 32
    with pytest.raises(CryptoError):
        unwrap_private_key(round_keys.wrapped_private, KEK, b"round=2|private")
    with pytest.raises(CryptoError):
        unwrap_private_key(round_keys.wrapped_private, OTHER_KEK, LABEL)


# --- canary -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kek", "expected"),
    [(KEK, True), (OTHER_KEK, False), (bytes(32), False), (KEK[:31], False)],
)
def test_check_canary(kek: bytes, expected: bool) -> None:
    assert check_canary(make_canary(KEK), kek) is expected


@pytest.mark.parametrize(
    "canary",
    [b"", b"\x01" + bytes(40), wrap(b"not the canary", KEK, b"canary")],
    ids=["empty", "version-only", "other-wrap"],
)
def test_check_canary_rejects_other_blobs(canary: bytes) -> None:
    assert check_canary(canary, KEK) is False


# --- tokens and ids -----------------------------------------------------------------------------


def _bits(token: str) -> int:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return 8 * len(raw)


def test_derive_token_is_deterministic() -> None:
    assert derive_token(b"secret", "person-1") == derive_token(b"secret", "person-1")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((b"secret", "person-1"), (b"secret", "person-2")),
        ((b"secret", "person-1"), (b"secreT", "person-1")),
        ((b"secret", "1"), (b"secret", "11")),
        ((bytes(32), "p"), (bytes(31) + b"\x01", "p")),
    ],
)
def test_derive_token_differs(a: tuple[bytes, str], b: tuple[bytes, str]) -> None:
    assert derive_token(*a) != derive_token(*b)


def test_derived_tokens_are_distinct_across_many_people() -> None:
    secret = os.urandom(32)
    tokens = {derive_token(secret, str(person)) for person in range(2000)}
    assert len(tokens) == 2000


@pytest.mark.parametrize("token", [derive_token(b"s", "p"), new_token()], ids=["derived", "new"])
def test_tokens_are_url_safe_and_long(token: str) -> None:
    assert _bits(token) >= 128
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_new_tokens_are_unique() -> None:
    assert len({new_token() for _ in range(1000)}) == 1000


@pytest.mark.parametrize("token", ["", "abc", derive_token(b"s", "p")])
def test_token_hash(token: str) -> None:
    digest = token_hash(token)
    assert len(digest) == 32
    assert digest == token_hash(token)
    assert token.encode() not in digest or not token


def test_token_hash_differs_per_token() -> None:
    assert token_hash("a") != token_hash("b")


def test_new_response_id_is_random_and_unordered() -> None:
    ids = [new_response_id() for _ in range(1000)]
    assert all(len(i) == RESPONSE_ID_BYTES == 16 for i in ids)
    assert len(set(ids)) == 1000
    assert ids != sorted(ids)
    assert ids != sorted(ids, reverse=True)
    # No shared prefix that a time component (UUIDv7, ULID) would produce.
    assert len({i[:2] for i in ids}) > 500
