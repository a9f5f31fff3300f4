"""Tests for RFC 9474 blind RSA signatures (RSABSSA-SHA384-PSS-Randomized)."""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from survey.domain.blindrsa import (
    KEY_BITS,
    PREFIX_BYTES,
    SALT_BYTES,
    BlindSignatureError,
    SigningKey,
    blind,
    blind_sign,
    finalize,
    fingerprint,
    generate_key,
    load_public,
    prepare,
    private_der,
    public_der,
    public_jwk_fields,
    verify,
)
from tests.domain.blindrsa_vector import VECTOR, flip, vector_key, vector_r

DER, SPKI = Encoding.DER, PublicFormat.SubjectPublicKeyInfo
MESSAGE = b"ballot for round 7"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    """Return a fresh key for this module."""
    return generate_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    """Return a second key, as held for another label."""
    return generate_key()


def run_protocol(key: rsa.RSAPrivateKey, msg: bytes) -> tuple[bytes, bytes]:
    """Run prepare, blind, blind_sign and finalize; return ``(msg_prime, sig)``."""
    public = key.public_key()
    msg_prime = prepare(msg)
    blinded, inv = blind(public, msg_prime)
    blind_sig = blind_sign(SigningKey.from_private(key), blinded)
    return msg_prime, finalize(public, msg_prime, blind_sig, inv)


# --- the RFC 9474 test vector -------------------------------------------------------------------


def test_vector_key_is_consistent() -> None:
    numbers = vector_key().private_numbers().public_numbers
    assert numbers.n.to_bytes(512, "big") == VECTOR["n"]
    assert numbers.e == 65537


def test_rfc_vector_end_to_end() -> None:
    private = vector_key()
    public = private.public_key()
    n, e = public.public_numbers().n, public.public_numbers().e

    msg_prime = prepare(VECTOR["msg"], VECTOR["msg_prefix"])
    assert msg_prime == VECTOR["prepared_msg"]

    blinded, inv = blind(public, msg_prime, salt=VECTOR["salt"], r=vector_r())
    assert inv == VECTOR["inv"]
    assert blinded == VECTOR["blinded_msg"]
    # blinded = encoded * r^e, so unblinding with inv^e gives back the EMSA-PSS encoding.
    encoded = int.from_bytes(blinded, "big") * pow(int.from_bytes(inv, "big"), e, n) % n
    assert encoded.to_bytes(512, "big") == VECTOR["encoded_msg"]

    blind_sig = blind_sign(SigningKey.from_private(private), blinded)
    assert blind_sig == VECTOR["blind_sig"]
    sig = finalize(public, msg_prime, blind_sig, inv)
    assert sig == VECTOR["sig"]
    assert verify(public, msg_prime, sig)
    assert not verify(public, VECTOR["msg"], sig)  # the prefix is part of what is signed


def test_vector_key_public_jwk_fields() -> None:
    fields = public_jwk_fields(vector_key().public_key())
    assert fields["e"] == "AQAB"
    assert "=" not in fields["n"]
    padded = fields["n"] + "=" * (-len(fields["n"]) % 4)
    assert base64.urlsafe_b64decode(padded) == VECTOR["n"]


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("msg", [b"", b"x", MESSAGE, bytes(range(256)) * 8])
def test_round_trip(key: rsa.RSAPrivateKey, msg: bytes) -> None:
    msg_prime, sig = run_protocol(key, msg)
    assert msg_prime[PREFIX_BYTES:] == msg
    assert len(sig) == KEY_BITS // 8
    assert verify(key.public_key(), msg_prime, sig)


def test_same_message_twice_gives_unrelated_values(key: rsa.RSAPrivateKey) -> None:
    public = key.public_key()
    first, second = prepare(MESSAGE), prepare(MESSAGE)
    assert first != second
    assert blind(public, first)[0] != blind(public, first)[0]
    assert run_protocol(key, MESSAGE)[1] != run_protocol(key, MESSAGE)[1]


def test_signature_is_plain_rsassa_pss(key: rsa.RSAPrivateKey) -> None:
    msg_prime, sig = run_protocol(key, MESSAGE)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=SALT_BYTES)
    key.public_key().verify(sig, msg_prime, pss, hashes.SHA384())  # raises if invalid


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case", ["wrong key", "tampered message", "tampered blind_sig", "tampered inv"]
)
def test_finalize_refuses(key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, case: str) -> None:
    public = key.public_key()
    msg_prime = prepare(MESSAGE)
    blinded, inv = blind(public, msg_prime)
    if case == "wrong key":
        # Another key's signature is refused; which check refuses it depends on which modulus
        # is larger (a value can be out of the other key's range before any signature check).
        with pytest.raises(BlindSignatureError, match="invalid signature|out of range"):
            finalize(
                public, msg_prime, blind_sign(SigningKey.from_private(other_key), blinded), inv
            )
        return
    blind_sig = blind_sign(SigningKey.from_private(key), blinded)
    if case == "tampered message":
        msg_prime = flip(msg_prime)
    elif case == "tampered blind_sig":
        blind_sig = flip(blind_sig)
    elif case == "tampered inv":
        inv = flip(inv)
    with pytest.raises(BlindSignatureError, match="invalid signature"):
        finalize(public, msg_prime, blind_sig, inv)


@pytest.mark.parametrize(
    "case", ["other label key", "tampered message", "tampered signature", "prefix dropped"]
)
def test_verify_refuses(key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, case: str) -> None:
    msg_prime, sig = run_protocol(key, MESSAGE)
    public = other_key.public_key() if case == "other label key" else key.public_key()
    if case == "tampered message":
        msg_prime = flip(msg_prime, 0)
    elif case == "tampered signature":
        sig = flip(sig, 100)
    elif case == "prefix dropped":
        msg_prime = msg_prime[PREFIX_BYTES:]
    assert not verify(public, msg_prime, sig)


@pytest.mark.parametrize("size", [0, 255, 257])
def test_verify_refuses_wrong_length(key: rsa.RSAPrivateKey, size: int) -> None:
    assert not verify(key.public_key(), MESSAGE, bytes(size))


@pytest.mark.parametrize(
    ("value", "size", "match"),
    [
        ("n", 256, "out of range"),
        ("n+1", 256, "out of range"),
        ("max", 256, "out of range"),
        ("zero", 256, "out of range"),
        ("one", 255, "must be 256 bytes"),
        ("one", 257, "must be 256 bytes"),
        ("zero", 0, "must be 256 bytes"),
    ],
)
def test_blind_sign_refuses(key: rsa.RSAPrivateKey, value: str, size: int, match: str) -> None:
    signing = SigningKey.from_private(key)
    m = {"n": signing.n, "n+1": signing.n + 1, "max": 2 ** (8 * size) - 1, "zero": 0, "one": 1}
    blinded = m[value].to_bytes(size, "big")
    with pytest.raises(BlindSignatureError, match=match):
        blind_sign(signing, blinded)


def test_blind_sign_catches_a_faulty_key(key: rsa.RSAPrivateKey) -> None:
    signing = SigningKey.from_private(key)
    faulty = dataclasses.replace(signing, dp=signing.dp ^ 2)  # as if a bit flipped in memory
    blinded, _ = blind(key.public_key(), prepare(MESSAGE))
    with pytest.raises(BlindSignatureError, match="signing failure"):
        blind_sign(faulty, blinded)


@pytest.mark.parametrize("r", ["zero", "n", "p", "q", "negative"])
def test_blind_refuses_r_not_invertible(r: str) -> None:
    private = vector_key()
    numbers = private.private_numbers()
    values = {
        "zero": 0,
        "n": numbers.public_numbers.n,
        "p": numbers.p,
        "q": numbers.q,
        "negative": -1,
    }
    with pytest.raises(BlindSignatureError, match="blinding error"):
        blind(private.public_key(), VECTOR["prepared_msg"], r=values[r])


@pytest.mark.parametrize("size", [0, SALT_BYTES - 1, SALT_BYTES + 1])
def test_blind_refuses_wrong_salt_length(key: rsa.RSAPrivateKey, size: int) -> None:
    with pytest.raises(BlindSignatureError, match="salt"):
        blind(key.public_key(), prepare(MESSAGE), salt=bytes(size))


@pytest.mark.parametrize(("blind_sig_size", "inv_size"), [(255, 256), (256, 255), (257, 257)])
def test_finalize_refuses_wrong_lengths(
    key: rsa.RSAPrivateKey, blind_sig_size: int, inv_size: int
) -> None:
    with pytest.raises(BlindSignatureError, match="unexpected input size"):
        finalize(key.public_key(), MESSAGE, bytes(blind_sig_size), bytes(inv_size))


@pytest.mark.parametrize("size", [0, PREFIX_BYTES - 1, PREFIX_BYTES + 1])
def test_prepare_refuses_wrong_prefix_length(size: int) -> None:
    with pytest.raises(BlindSignatureError, match="prefix"):
        prepare(MESSAGE, bytes(size))


def test_prepare_random_prefix() -> None:
    msg_prime = prepare(MESSAGE)
    assert len(msg_prime) == PREFIX_BYTES + len(MESSAGE)
    assert msg_prime.endswith(MESSAGE)


def test_generate_key_refuses_short_keys() -> None:
    with pytest.raises(BlindSignatureError, match="at least"):
        generate_key(1024)


# --- serialisation ------------------------------------------------------------------------------


def test_signing_key_from_der_round_trip(key: rsa.RSAPrivateKey) -> None:
    signing = SigningKey.from_der(private_der(key))
    assert signing == SigningKey.from_private(key)
    assert signing.qinv * signing.q % signing.p == 1
    assert signing.n == signing.p * signing.q


def test_public_der_round_trip(key: rsa.RSAPrivateKey) -> None:
    der = public_der(key)
    assert der == public_der(key.public_key())
    loaded = load_public(der)
    assert loaded.public_numbers() == key.public_key().public_numbers()


def short_key_der() -> bytes:
    """Return the SPKI DER of a 1024-bit key, made without generate_key's check."""
    return public_der(rsa.generate_private_key(public_exponent=65537, key_size=1024))


def ec_key() -> ec.EllipticCurvePrivateKey:
    """Return a P-256 key, to stand for a key of the wrong type."""
    return ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize(
    ("make_der", "match"),
    [
        (lambda: b"", "not a SubjectPublicKeyInfo"),
        (lambda: b"\x30\x03\x02\x01\x01", "not a SubjectPublicKeyInfo"),
        (lambda: ec_key().public_key().public_bytes(DER, SPKI), "not an RSA public key"),
        (short_key_der, "at least 2048 bits"),
    ],
)
def test_load_public_refuses(make_der: Callable[[], bytes], match: str) -> None:
    with pytest.raises(BlindSignatureError, match=match):
        load_public(make_der())


@pytest.mark.parametrize(
    ("make_der", "match"),
    [
        (lambda: b"", "not an unencrypted PKCS#8"),
        (lambda: public_der(generate_key()), "not an unencrypted PKCS#8"),
        (
            lambda: ec_key().private_bytes(DER, PrivateFormat.PKCS8, NoEncryption()),
            "not an RSA private key",
        ),
    ],
)
def test_signing_key_from_der_refuses(make_der: Callable[[], bytes], match: str) -> None:
    with pytest.raises(BlindSignatureError, match=match):
        SigningKey.from_der(make_der())


FINGERPRINT = re.compile(r"[0-9a-f]{4}( [0-9a-f]{4}){7}")


def test_fingerprint_format(key: rsa.RSAPrivateKey) -> None:
    assert FINGERPRINT.fullmatch(fingerprint(public_der(key)))
    assert fingerprint(b"") == "e3b0 c442 98fc 1c14 9afb f4c8 996f b924"  # SHA-256 of nothing
    assert fingerprint(public_der(key)) != fingerprint(public_der(generate_key()))
