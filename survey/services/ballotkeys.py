"""The blind-signature keys of a round: one per storage label, public while the round lives.

Invariants: a round has exactly one key per storage label (unit, band), made when it opens and
numbered in the order of the sorted labels, so the published list of keys is the list of
labels; the private halves are stored only wrapped by the instance key and are destroyed when
the round closes; a check-in signs with the key of the invitation's label and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ..domain import blindrsa, crypto
from ..kept import Kept
from ..models import BallotKey


class KeyUnavailable(Exception):
    """The round has no usable ballot key with this id (unknown, or destroyed at close)."""


@dataclass(frozen=True)
class PublicBallotKey:
    """What anyone may know of a ballot key: its label, its public numbers, its fingerprint."""

    key_id: int
    unit_id: int
    band: str
    public_der: bytes
    fingerprint: str
    jwk: dict[str, str]
    public: rsa.RSAPublicKey = field(repr=False, compare=False)


def wrap_label(round_id: int, key_id: int) -> bytes:
    """Return the label binding a wrapped ballot key to its round and number."""
    return f"candor/round/{round_id}/ballot/{key_id}".encode()


def create_keys(
    session: Session, round_id: int, labels: list[tuple[int, str]], kek: bytes
) -> dict[tuple[int, str], int]:
    """Make one key per distinct label and return label -> key id; the caller commits."""
    ids: dict[tuple[int, str], int] = {}
    for key_id, (unit_id, band) in enumerate(sorted(set(labels)), start=1):
        private = blindrsa.generate_key()
        session.add(
            BallotKey(
                round_id=round_id,
                key_id=key_id,
                unit_id=unit_id,
                band=band,
                public_key=blindrsa.public_der(private),
                wrapped_private_key=crypto.wrap(
                    blindrsa.private_der(private), kek, wrap_label(round_id, key_id)
                ),
            )
        )
        ids[(unit_id, band)] = key_id
    session.flush()
    return ids


@lru_cache(maxsize=1024)
def _public_key(key_id: int, unit_id: int, band: str, der: bytes) -> PublicBallotKey:
    """Parse a public ballot key once per process (its row never changes)."""
    public = blindrsa.load_public(der)
    return PublicBallotKey(
        key_id,
        unit_id,
        band,
        der,
        blindrsa.fingerprint(der),
        blindrsa.public_jwk_fields(public),
        public,
    )


_PUBLIC = (
    select(BallotKey.key_id, BallotKey.unit_id, BallotKey.band, BallotKey.public_key)
    .where(BallotKey.round_id == bindparam("round_id"))
    .order_by(BallotKey.key_id)
)


def public_keys(session: Session, round_id: int) -> list[PublicBallotKey]:
    """Return every ballot key of a round, in key order (as the privacy pages list them).

    Plain rows: the wrapped private halves are not read, and no ORM object is made."""
    rows = session.connection().execute(_PUBLIC, {"round_id": round_id})
    return [_public_key(*row) for row in rows]


def fingerprints(session: Session, round_id: int) -> list[tuple[int, int, str, str]]:
    """Return (key id, unit id, band, fingerprint) of every ballot key of a round, in key
    order, as a release records them: no key is parsed (a fingerprint hashes the stored
    bytes)."""
    rows = session.connection().execute(_PUBLIC, {"round_id": round_id})
    return [(key_id, unit, band, blindrsa.fingerprint(der)) for key_id, unit, band, der in rows]


_ONE_PUBLIC = select(BallotKey.unit_id, BallotKey.band, BallotKey.public_key).where(
    BallotKey.round_id == bindparam("round_id"), BallotKey.key_id == bindparam("key_id")
)


def public_key(session: Session, round_id: int, key_id: int) -> PublicBallotKey:
    """Return one ballot key of a round, or raise :class:`KeyUnavailable`."""
    row = (
        session.connection().execute(_ONE_PUBLIC, {"round_id": round_id, "key_id": key_id}).first()
    )
    if row is None:
        raise KeyUnavailable()
    return _public_key(key_id, row.unit_id, row.band, row.public_key)


_ONE_PRIVATE = select(BallotKey.wrapped_private_key).where(
    BallotKey.round_id == bindparam("round_id"), BallotKey.key_id == bindparam("key_id")
)
# Public keys of open rounds kept per process, under (round id, the round's opening key, key
# id): a round's ballot keys are made in the transaction that gives it its opening key (32
# random bytes), and a public key never changes, so the pair names the key for good.
_open_public: Kept[tuple[int, bytes, int], PublicBallotKey] = Kept(1024)


def open_public_key(
    session: Session, round_id: int, opening_key: bytes, key_id: int
) -> PublicBallotKey:
    """Return one ballot key of the open round whose opening key is ``opening_key`` (read
    once per process), or raise :class:`KeyUnavailable`."""
    return _open_public.get_or_make(
        (round_id, opening_key, key_id), lambda: public_key(session, round_id, key_id)
    )


# Unwrapped signing keys of open rounds kept per process, under (round id, the round's opening
# key, key id), as the public keys are: parsing a PKCS#8 RSA key costs more than a signature.
# While a round is open under that opening key its private halves exist and never change
# (made when it opens, destroyed when it closes; rotating the instance key re-wraps the same
# key), so a caller that has just read the round open, under the lock that keeps it open
# until its transaction ends, may sign with the kept copy without reading the wrapped blob.
_signing: Kept[tuple[int, bytes, int], blindrsa.SigningKey] = Kept(512)


def signing_key(
    session: Session, round_id: int, opening_key: bytes, key_id: int, kek: bytes
) -> blindrsa.SigningKey:
    """Return the private key of a ballot key of the open round whose opening key is
    ``opening_key`` (unwrapped once per process), or raise :class:`KeyUnavailable`.

    The caller must have read the round open with that opening key in this transaction,
    under the share lock :func:`.submission.survey_for` takes when answering (a check-in does).
    """

    def unwrapped() -> blindrsa.SigningKey:
        wrapped = (
            session.connection()
            .execute(_ONE_PRIVATE, {"round_id": round_id, "key_id": key_id})
            .scalar()
        )
        if wrapped is None:
            raise KeyUnavailable()
        return blindrsa.SigningKey.from_der(
            crypto.unwrap(wrapped, kek, wrap_label(round_id, key_id))
        )

    return _signing.get_or_make((round_id, opening_key, key_id), unwrapped)


def destroy_private_keys(session: Session, round_id: int) -> None:
    """Forget the private halves of a round's ballot keys (at close); the caller commits."""
    session.execute(
        update(BallotKey).where(BallotKey.round_id == round_id).values(wrapped_private_key=None)
    )
    _signing.forget(lambda key: key[0] == round_id)
