"""Who can open a round's answers: the instance key, or a quorum of named custodians.

Invariants:

- A programme's custody mode is fixed into each round when it opens. In instance mode the
  round's private key is wrapped by the instance key (``rounds.wrapped_private_key``). In
  custodian mode it is wrapped by a custody key that is split k-of-n among the programme's
  active custodians and never stored (``round_custody``, ``custody_shares``); then
  ``rounds.wrapped_private_key`` stays empty and the instance key opens nothing.
- Accepting answers needs only public keys, so a custodian-mode round opens and runs with
  nobody present; only its release needs the quorum.
- Shares entered one by one on the custody page wait in ``pending_shares``, wrapped by the
  instance key and bound to an expiry, for at most :data:`PENDING_MINUTES`; they are deleted
  at release, at abandon and once expired. Fewer than a quorum say nothing about the key.
- A custodian leaves only after the round keys they hold a share of are re-shared among the
  others under a new custody key, so their old share opens nothing any more.
- Every refusal is a :class:`CustodyError` whose message says what to do; nothing is lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..domain import crypto
from ..domain import custody as shares_domain
from ..domain.custody import Enrolment, Share
from ..models import (
    Custodian,
    Custody,
    CustodyShare,
    PendingShare,
    Program,
    Round,
    RoundCustody,
    RoundStatus,
)
from . import mixing

PENDING_MINUTES = 30
CUSTODY_PAGE = "/admin/custody/rounds/{round_id}"


class CustodyError(RuntimeError):
    """Raised when custody refuses a step; the message says why and what to do."""


def custodians(session: Session, program_id: int) -> list[Custodian]:
    """Return a programme's active custodians, in the order they were added."""
    return list(
        session.scalars(
            select(Custodian)
            .where(Custodian.program_id == program_id, Custodian.active)
            .order_by(Custodian.id)
        )
    )


def add_custodian(
    session: Session, program: Program, name: str, label: str, passphrase: str, cost: int
) -> Custodian:
    """Enrol a custodian of ``program``: only the public key their passphrase derives is kept.

    They hold a share of every round opened from now on (and of open rounds after a
    :func:`reshare`). The caller commits.
    """
    try:
        shares_domain.check_label(label)
        enrolment = shares_domain.enrol(passphrase, cost)
    except shares_domain.CustodyError as exc:
        raise CustodyError(f"{exc}.") from None
    if not name.strip():
        raise CustodyError("give the custodian's name.")
    clash = session.scalar(
        select(Custodian).where(Custodian.program_id == program.id, Custodian.label == label)
    )
    if clash is not None:
        raise CustodyError(f"{program.name} already has a custodian labelled {label!r}.")
    found = Custodian(
        program_id=program.id,
        name=name.strip(),
        label=label,
        salt=enrolment.salt,
        cost=enrolment.cost,
        public_key=enrolment.public_key,
        active=True,
    )
    session.add(found)
    session.flush()
    return found


def is_custodial(session: Session, round_id: int) -> bool:
    """Return whether a round's opening key is held by custodians."""
    return session.get(RoundCustody, round_id) is not None


def quorum_of(session: Session, round_id: int) -> int | None:
    """Return how many custodians a round's release needs (None in instance mode)."""
    held = session.get(RoundCustody, round_id)
    return held.quorum if held is not None else None


def new_opening_key(session: Session, rnd: Round, kek: bytes) -> bytes:
    """Create the round's key pair under the programme's custody mode; return the public key.

    The caller (opening the round) commits.
    """
    label = crypto.key_label(rnd.id, "private")
    program = rnd.program
    if program.custody is not Custody.CUSTODIANS:
        keys = crypto.new_round_keys(kek, label)
        rnd.wrapped_private_key = keys.wrapped_private
        return keys.public
    holders = custodians(session, program.id)
    if len(holders) < program.custody_quorum:
        raise CustodyError(
            f"{program.name} is in custodian mode with a quorum of {program.custody_quorum} "
            f"but has {len(holders)} custodian(s): add custodians with `candor custodian add "
            f"{program.id} NAME LABEL`, or lower the quorum, then open the round again."
        )
    custody_key = shares_domain.new_custody_key()
    keys = crypto.new_round_keys(custody_key, label)
    rnd.wrapped_private_key = None
    session.add(
        RoundCustody(
            round_id=rnd.id, quorum=program.custody_quorum, wrapped_private_key=keys.wrapped_private
        )
    )
    _share_out(session, rnd.id, custody_key, program.custody_quorum, holders)
    return keys.public


def _share_out(
    session: Session, round_id: int, custody_key: bytes, quorum: int, holders: Sequence[Custodian]
) -> None:
    split = shares_domain.split(custody_key, quorum, len(holders))
    for holder, share in zip(holders, split, strict=True):
        info = shares_domain.share_context(round_id, holder.id)
        sealed = shares_domain.seal_share(share, holder.public_key, info)
        session.add(CustodyShare(round_id=round_id, custodian_id=holder.id, sealed=sealed))
    session.flush()


def holders(session: Session, round_id: int) -> list[Custodian]:
    """Return the custodians holding a share of a round, in the order they were added."""
    return list(
        session.scalars(
            select(Custodian)
            .join(CustodyShare, CustodyShare.custodian_id == Custodian.id)
            .where(CustodyShare.round_id == round_id)
            .order_by(Custodian.id)
        )
    )


def open_share(
    session: Session, rnd: Round, label: str, passphrase: str
) -> tuple[Custodian, Share]:
    """Return the share of the custodian ``label`` opened with their passphrase.

    A wrong passphrase, or a label that holds no share of this round, is refused by name.
    """
    holder = next((h for h in holders(session, rnd.id) if h.label == label), None)
    if holder is None:
        names = ", ".join(h.label for h in holders(session, rnd.id)) or "nobody"
        raise CustodyError(
            f"{label!r} holds no share of {rnd.label} (round {rnd.id}); its custodians are: "
            f"{names}."
        )
    try:
        private = shares_domain.unlock(
            passphrase, Enrolment(holder.salt, holder.cost, holder.public_key)
        )
        sealed = session.get(CustodyShare, (rnd.id, holder.id))
        assert sealed is not None
        share = shares_domain.open_share(
            sealed.sealed, private, shares_domain.share_context(rnd.id, holder.id)
        )
    except shares_domain.CustodyError as exc:
        raise CustodyError(
            f"the passphrase given for {holder.name} ({holder.label}) does not open their "
            f"share ({exc}); nothing was changed: try again."
        ) from None
    return holder, share


def opening_key(
    session: Session, rnd: Round, kek: bytes, shares: Sequence[Share] = ()
) -> X25519PrivateKey:
    """Return the round's private key: by the instance key, or rebuilt from a quorum of shares."""
    held = session.get(RoundCustody, rnd.id)
    label = crypto.key_label(rnd.id, "private")
    if held is None:
        if rnd.wrapped_private_key is None:
            raise CustodyError(
                f"{rnd.label} (round {rnd.id}) has no opening key: it was never opened, or "
                "its key was destroyed after its release (retention)."
            )
        return crypto.unwrap_private_key(rnd.wrapped_private_key, kek, label)
    if len({s.index for s in shares}) < held.quorum:
        raise CustodyError(quorum_refusal(session, rnd, shares))
    custody_key = shares_domain.combine(shares, held.quorum)
    try:
        return crypto.unwrap_private_key(held.wrapped_private_key, custody_key, label)
    except crypto.CryptoError:
        raise CustodyError(
            f"the custodians' shares do not rebuild the opening key of {rnd.label} (round "
            f"{rnd.id}): a share was damaged or altered. Nothing was changed."
        ) from None


def quorum_refusal(session: Session, rnd: Round, shares: Sequence[Share]) -> str:
    """Return what to say when fewer than a quorum of custodians gave their passphrase.

    Share ``i`` belongs to the ``i``-th holder: :func:`_share_out` splits in that order.
    """
    quorum = quorum_of(session, rnd.id) or 0
    everyone = holders(session, rnd.id)
    came_in = {s.index for s in shares}
    names = [h.label for i, h in enumerate(everyone, start=1) if i in came_in]
    given = len(names)
    came = f" ({', '.join(names)})" if names else ""
    missing = ", ".join(f"{h.name} ({h.label})" for h in everyone if h.label not in names)
    if len(everyone) < quorum:
        return (
            f"{rnd.label} (round {rnd.id}) stays sealed and nothing is lost, but its quorum "
            f"cannot be reached: it needs {quorum} custodians and only {len(everyone)} hold a "
            "share. Nobody can open it; if a share is lost for good, so are its answers."
        )
    return (
        f"{rnd.label} (round {rnd.id}) stays closed and nothing is lost: it opens only with "
        f"{quorum} of its {len(everyone)} custodians' passphrases, and {given} "
        f"{'was' if given == 1 else 'were'} given{came}. Still missing: {missing}. Gather at "
        f"least {quorum - given} more of them, then run `candor round release {rnd.id}` "
        f"again or have each enter theirs on the custody page "
        f"({CUSTODY_PAGE.format(round_id=rnd.id)})."
    )


def reshare(session: Session, rnd: Round, shares: Sequence[Share]) -> int:
    """Re-split a round's key among the programme's active custodians under a new custody key.

    Needs a quorum of the current shares; afterwards every old share opens nothing. Return
    how many custodians hold a share now. The caller commits, then scrubs storage.
    """
    held = session.get(RoundCustody, rnd.id)
    if held is None:
        raise CustodyError(f"{rnd.label} (round {rnd.id}) is not in custodian mode.")
    if rnd.status is RoundStatus.RELEASED:
        raise CustodyError(f"{rnd.label} (round {rnd.id}) is released: nothing to re-share.")
    private = opening_key(session, rnd, b"", shares)
    remaining = custodians(session, rnd.program_id)
    if len(remaining) < held.quorum:
        raise CustodyError(
            f"only {len(remaining)} custodian(s) would remain for a quorum of {held.quorum}: "
            f"add a custodian first (`candor custodian add {rnd.program_id} NAME LABEL`)."
        )
    custody_key = shares_domain.new_custody_key()
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    held.wrapped_private_key = crypto.wrap(raw, custody_key, crypto.key_label(rnd.id, "private"))
    session.execute(delete(CustodyShare).where(CustodyShare.round_id == rnd.id))
    session.execute(delete(PendingShare).where(PendingShare.round_id == rnd.id))
    _share_out(session, rnd.id, custody_key, held.quorum, remaining)
    mixing.mark_scrub_pending(session)
    return len(remaining)


def rounds_held_by(session: Session, custodian: Custodian) -> list[Round]:
    """Return the unreleased rounds a custodian holds a share of (they must be re-shared)."""
    return list(
        session.scalars(
            select(Round)
            .join(CustodyShare, CustodyShare.round_id == Round.id)
            .where(CustodyShare.custodian_id == custodian.id, Round.status != RoundStatus.RELEASED)
            .order_by(Round.id)
        )
    )


def find_custodian(session: Session, program_id: int, label: str) -> Custodian:
    """Return the active custodian ``label`` of a programme, or refuse."""
    found = session.scalar(
        select(Custodian).where(
            Custodian.program_id == program_id, Custodian.label == label, Custodian.active
        )
    )
    if found is None:
        raise CustodyError(f"programme {program_id} has no active custodian labelled {label!r}.")
    return found


def retire(session: Session, leaving: Custodian) -> None:
    """Mark a custodian as gone, once :func:`rounds_held_by` is empty for them.

    Their shares of released rounds go too; the caller commits, then scrubs storage.
    """
    if rounds_held_by(session, leaving):
        raise CustodyError(
            f"{leaving.name} still holds shares of unreleased rounds: re-share them first."
        )
    leaving.active = False
    session.execute(delete(CustodyShare).where(CustodyShare.custodian_id == leaving.id))
    session.execute(delete(PendingShare).where(PendingShare.custodian_id == leaving.id))
    mixing.mark_scrub_pending(session)
    session.flush()


# --- Shares entered one by one on the custody page ----------------------------------------


def _pending_label(round_id: int, custodian_id: int, expires_at: dt.datetime) -> bytes:
    return crypto.key_label(round_id, f"pending/{custodian_id}/{expires_at.isoformat()}")


def hold(
    session: Session, rnd: Round, holder: Custodian, share: Share, kek: bytes, now: dt.datetime
) -> None:
    """Keep one custodian's opened share until the quorum is reached or the time runs out."""
    expires_at = (now + dt.timedelta(minutes=PENDING_MINUTES)).replace(microsecond=0)
    wrapped = crypto.wrap(share.to_bytes(), kek, _pending_label(rnd.id, holder.id, expires_at))
    session.merge(
        PendingShare(
            round_id=rnd.id, custodian_id=holder.id, wrapped=wrapped, expires_at=expires_at
        )
    )
    session.flush()


def pending(session: Session, rnd: Round, kek: bytes, now: dt.datetime) -> dict[int, Share]:
    """Return the shares waiting for a round's release by custodian id (expired ones deleted)."""
    found: dict[int, Share] = {}
    for row in list(session.scalars(select(PendingShare).where(PendingShare.round_id == rnd.id))):
        if row.expires_at <= now:
            session.delete(row)
            continue
        label = _pending_label(rnd.id, row.custodian_id, row.expires_at)
        try:
            found[row.custodian_id] = Share.from_bytes(crypto.unwrap(row.wrapped, kek, label))
        except (crypto.CryptoError, shares_domain.CustodyError):
            session.delete(row)  # altered, or its expiry was moved: it counts for nothing
    session.flush()
    return found


def wipe_pending(
    session: Session, round_id: int | None = None, now: dt.datetime | None = None
) -> int:
    """Delete pending shares (of one round, or only expired ones); return how many went.

    The caller commits, then scrubs storage (the tick does both).
    """
    query = delete(PendingShare)
    if round_id is not None:
        query = query.where(PendingShare.round_id == round_id)
    if now is not None:
        query = query.where(PendingShare.expires_at <= now)
    gone = int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]
    if gone:
        mixing.mark_scrub_pending(session)
    return gone


def destroy(session: Session, round_id: int) -> None:
    """Destroy everything that could rebuild a round's opening key under custody."""
    session.execute(delete(PendingShare).where(PendingShare.round_id == round_id))
    session.execute(delete(CustodyShare).where(CustodyShare.round_id == round_id))
    session.execute(delete(RoundCustody).where(RoundCustody.round_id == round_id))
