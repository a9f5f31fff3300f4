"""RSA blind signatures: RFC 9474, variant RSABSSA-SHA384-PSS-Randomized.

Invariants:
- The server never sees the message it signs: :func:`blind_sign` only receives
  ``m * r^e mod n`` for a uniformly random ``r`` chosen by the client, which is itself uniformly
  distributed and tells the server nothing about ``m``.
- A finalized signature is an ordinary RSASSA-PSS signature (SHA-384, MGF1 with SHA-384, a
  48-byte salt) over the prepared message ``prefix || msg``; :func:`verify`, or any PSS verifier,
  checks it with the public key alone.
- Every failure (bad key, bad input, out-of-range value, fault during signing, invalid signature)
  raises :class:`BlindSignatureError`; only :func:`verify` answers with a boolean.
- Keys are passed in; nothing here reads files or configuration.
"""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
from dataclasses import dataclass

import gmpy2  # type: ignore[import-untyped]  # gmpy2 ships no type information
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_BITS = 2048
MIN_KEY_BITS = 2048
PUBLIC_EXPONENT = 65537
PREFIX_BYTES = 32
SALT_BYTES = 48
HASH_BYTES = 48  # SHA-384
FINGERPRINT_BYTES = 16
FINGERPRINT_GROUP = 4  # hex digits per group
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=SALT_BYTES)


class BlindSignatureError(Exception):
    """Raised for every failure to blind, sign, finalize or load a key."""


@dataclass(frozen=True)
class SigningKey:
    """The private key as plain integers, with the CRT parameters precomputed."""

    n: int
    e: int
    d: int
    p: int
    q: int
    dp: int
    dq: int
    qinv: int  # q^-1 mod p

    @classmethod
    def from_private(cls, key: rsa.RSAPrivateKey) -> SigningKey:
        """Extract the integers of ``key``."""
        priv = key.private_numbers()
        pub = priv.public_numbers
        return cls(
            n=pub.n,
            e=pub.e,
            d=priv.d,
            p=priv.p,
            q=priv.q,
            dp=priv.dmp1,
            dq=priv.dmq1,
            qinv=priv.iqmp,
        )

    @classmethod
    def from_der(cls, der: bytes) -> SigningKey:
        """Load an unencrypted PKCS#8 DER private key.

        OpenSSL's consistency check of the key (tens of milliseconds, more than a signature)
        is skipped: Candor only loads keys it made, from an authenticated wrap, and
        :func:`blind_sign` checks every signature against the public key before it leaves.
        """
        try:
            key = serialization.load_der_private_key(
                der, password=None, unsafe_skip_rsa_key_validation=True
            )
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise BlindSignatureError("not an unencrypted PKCS#8 private key") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise BlindSignatureError("not an RSA private key")
        return cls.from_private(key)


def generate_key(bits: int = KEY_BITS) -> rsa.RSAPrivateKey:
    """Generate a fresh signing key of ``bits`` bits with exponent 65537."""
    if bits < MIN_KEY_BITS:
        raise BlindSignatureError(f"keys need at least {MIN_KEY_BITS} bits")
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)


def private_der(key: rsa.RSAPrivateKey) -> bytes:
    """Serialise ``key`` as unencrypted PKCS#8 DER; the caller wraps it before storing."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_der(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> bytes:
    """Serialise the public half of ``key`` as SubjectPublicKeyInfo DER."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public(der: bytes) -> rsa.RSAPublicKey:
    """Load a SubjectPublicKeyInfo DER RSA public key of at least ``MIN_KEY_BITS`` bits."""
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise BlindSignatureError("not a SubjectPublicKeyInfo public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise BlindSignatureError("not an RSA public key")
    if key.key_size < MIN_KEY_BITS:
        raise BlindSignatureError(f"keys need at least {MIN_KEY_BITS} bits")
    return key


def fingerprint(spki_der: bytes) -> str:
    """Return the first 16 bytes of SHA-256(``spki_der``) as space-separated groups of 4 hex."""
    digits = hashlib.sha256(spki_der).digest()[:FINGERPRINT_BYTES].hex()
    groups = range(0, len(digits), FINGERPRINT_GROUP)
    return " ".join(digits[i : i + FINGERPRINT_GROUP] for i in groups)


def public_jwk_fields(public: rsa.RSAPublicKey) -> dict[str, str]:
    """Return the JWK ``n`` and ``e`` of ``public``: unpadded base64url, big-endian, minimal."""
    numbers = public.public_numbers()
    return {"n": _b64url(_minimal_bytes(numbers.n)), "e": _b64url(_minimal_bytes(numbers.e))}


def prepare(msg: bytes, prefix: bytes | None = None) -> bytes:
    """Return ``prefix || msg`` with a fresh random 32-byte prefix unless one is given."""
    if prefix is None:
        prefix = secrets.token_bytes(PREFIX_BYTES)
    if len(prefix) != PREFIX_BYTES:
        raise BlindSignatureError(f"the prefix must be {PREFIX_BYTES} bytes")
    return prefix + msg


def blind(
    public: rsa.RSAPublicKey,
    msg_prime: bytes,
    *,
    salt: bytes | None = None,
    r: int | None = None,
) -> tuple[bytes, bytes]:
    """Encode and blind the prepared message; return ``(blinded_msg, inv)``.

    :param salt: the 48-byte PSS salt; random unless given (test vectors only).
    :param r: the blinding factor in ``[1, n)``; random unless given (test vectors only).
    :return: both values as big-endian bytes of the modulus length.
    """
    numbers = public.public_numbers()
    n, e = numbers.n, numbers.e
    if salt is None:
        salt = secrets.token_bytes(SALT_BYTES)
    if len(salt) != SALT_BYTES:
        raise BlindSignatureError(f"the salt must be {SALT_BYTES} bytes")
    m = int.from_bytes(_emsa_pss_encode(msg_prime, n.bit_length() - 1, salt), "big")
    if math.gcd(m, n) != 1:
        raise BlindSignatureError("invalid input: the encoded message is not coprime with n")
    if r is None:
        r = 1 + secrets.randbelow(n - 1)
    if not 0 < r < n or math.gcd(r, n) != 1:
        raise BlindSignatureError("blinding error: r is not invertible modulo n")
    inv = int(gmpy2.invert(r, n))
    z = m * int(gmpy2.powmod_sec(r, e, n)) % n
    size = _modulus_bytes(n)
    return _int_to_bytes(z, size), _int_to_bytes(inv, size)


def blind_sign(key: SigningKey, blinded_msg: bytes) -> bytes:
    """Apply the private key to a blinded message and return the blind signature.

    The exponentiation runs on CRT halves with GMP's constant-time ``powmod_sec``, on an input
    blinded once more with a fresh random factor (the rest of the arithmetic is not constant
    time), and the result is checked against the public key before it leaves (RFC 9474 §4.3).
    """
    n = key.n
    size = _modulus_bytes(n)
    if len(blinded_msg) != size:
        raise BlindSignatureError(f"the blinded message must be {size} bytes")
    m = int.from_bytes(blinded_msg, "big")
    if not 0 < m < n:
        raise BlindSignatureError("message representative out of range")
    while True:
        r = 1 + secrets.randbelow(n - 1)
        if math.gcd(r, n) == 1:
            break
    c = m * int(gmpy2.powmod_sec(r, key.e, n)) % n
    s = _crt_power(key, c) * int(gmpy2.invert(r, n)) % n
    if int(gmpy2.powmod(s, key.e, n)) != m:
        raise BlindSignatureError("signing failure")
    return _int_to_bytes(s, size)


def finalize(public: rsa.RSAPublicKey, msg_prime: bytes, blind_sig: bytes, inv: bytes) -> bytes:
    """Unblind ``blind_sig`` with ``inv`` and return the signature once it verifies."""
    n = public.public_numbers().n
    size = _modulus_bytes(n)
    if len(blind_sig) != size or len(inv) != size:
        raise BlindSignatureError(f"unexpected input size: expected {size} bytes")
    z, inv_int = int.from_bytes(blind_sig, "big"), int.from_bytes(inv, "big")
    if not (0 < z < n and 0 < inv_int < n):
        raise BlindSignatureError("value out of range")
    sig = _int_to_bytes(z * inv_int % n, size)
    if not verify(public, msg_prime, sig):
        raise BlindSignatureError("invalid signature")
    return sig


def verify(public: rsa.RSAPublicKey, msg_prime: bytes, sig: bytes) -> bool:
    """Return whether ``sig`` is a valid RSASSA-PSS SHA-384 signature over ``msg_prime``."""
    if len(sig) != _modulus_bytes(public.public_numbers().n):
        return False
    try:
        public.verify(sig, msg_prime, _PSS, hashes.SHA384())
    except InvalidSignature:
        return False
    return True


def _crt_power(key: SigningKey, c: int) -> int:
    """Return ``c^d mod n`` from its halves modulo ``p`` and ``q`` (Garner's recombination)."""
    m1 = int(gmpy2.powmod_sec(c % key.p, key.dp, key.p))
    m2 = int(gmpy2.powmod_sec(c % key.q, key.dq, key.q))
    h = key.qinv * (m1 - m2) % key.p
    return m2 + h * key.q


def _emsa_pss_encode(msg: bytes, em_bits: int, salt: bytes) -> bytes:
    """Return EMSA-PSS-ENCODE(``msg``, ``em_bits``) with SHA-384 and MGF1-SHA-384 (RFC 8017)."""
    em_len = (em_bits + 7) // 8
    if em_len < HASH_BYTES + len(salt) + 2:
        raise BlindSignatureError("encoding error: the modulus is too short")
    m_hash = hashlib.sha384(msg).digest()
    h = hashlib.sha384(bytes(8) + m_hash + salt).digest()
    db = bytes(em_len - len(salt) - HASH_BYTES - 2) + b"\x01" + salt
    masked = bytearray(a ^ b for a, b in zip(db, _mgf1(h, len(db)), strict=True))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    return bytes(masked) + h + b"\xbc"


def _mgf1(seed: bytes, length: int) -> bytes:
    """Return ``length`` bytes of MGF1 with SHA-384 over ``seed``."""
    blocks = (length + HASH_BYTES - 1) // HASH_BYTES
    out = b"".join(hashlib.sha384(seed + i.to_bytes(4, "big")).digest() for i in range(blocks))
    return out[:length]


def _modulus_bytes(n: int) -> int:
    """Return the length in bytes of the modulus ``n``."""
    return (n.bit_length() + 7) // 8


def _minimal_bytes(value: int) -> bytes:
    """Return ``value`` big-endian in as few bytes as it needs."""
    return _int_to_bytes(value, max(1, _modulus_bytes(value)))


def _int_to_bytes(value: int, size: int) -> bytes:
    """Return ``value`` as ``size`` big-endian bytes."""
    return value.to_bytes(size, "big")


def _b64url(data: bytes) -> str:
    """Return ``data`` as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
