"""Custody shares without an app: k of n rebuild the key, fewer and wrong ones do not."""

from __future__ import annotations

import itertools

import pytest

from survey.domain import custody
from survey.domain.custody import CustodyError, Share

CHEAP = 2**10


@pytest.mark.parametrize(("quorum", "holders"), [(1, 1), (2, 3), (3, 5), (5, 5)])
def test_every_quorum_rebuilds_the_key_and_fewer_do_not(quorum: int, holders: int) -> None:
    key = custody.new_custody_key()
    shares = custody.split(key, quorum, holders)
    assert sorted(s.index for s in shares) == list(range(1, holders + 1))
    for chosen in itertools.combinations(shares, quorum):
        assert custody.combine(chosen, quorum) == key
    if quorum > 1:
        with pytest.raises(CustodyError, match=f"{quorum - 1} share"):
            custody.combine(shares[: quorum - 1], quorum)
        # Below the quorum the scheme says nothing: a wrong rebuild, never the key.
        assert custody.combine(shares[: quorum - 1], quorum - 1) != key


def test_a_share_round_trips_and_rejects_malformed_bytes() -> None:
    share = custody.split(custody.new_custody_key(), 2, 3)[0]
    assert Share.from_bytes(share.to_bytes()) == share
    for bad in (b"", b"\x00" + share.to_bytes()[1:], share.to_bytes() + b"x"):
        with pytest.raises(CustodyError):
            Share.from_bytes(bad)


def test_a_sealed_share_opens_only_with_its_passphrase_and_context() -> None:
    enrolment = custody.enrol("a passphrase long enough", CHEAP)
    share = custody.split(custody.new_custody_key(), 2, 2)[1]
    sealed = custody.seal_share(share, enrolment.public_key, custody.share_context(1, 7))
    private = custody.unlock("a passphrase long enough", enrolment)
    assert custody.open_share(sealed, private, custody.share_context(1, 7)) == share
    with pytest.raises(CustodyError, match="does not open"):
        custody.open_share(sealed, private, custody.share_context(2, 7))
    with pytest.raises(CustodyError, match="wrong"):
        custody.unlock("a passphrase long enougH", enrolment)


@pytest.mark.parametrize(
    ("label", "passphrase", "message"),
    [
        ("ana@hr", "short", "at least 12"),
        ("ana:hr", "long enough passphrase", "without ':'"),
        (" ana", "long enough passphrase", "spaces"),
        ("", "long enough passphrase", "non-empty"),
    ],
)
def test_enrolment_refuses_bad_input(label: str, passphrase: str, message: str) -> None:
    with pytest.raises(CustodyError, match=message):
        custody.check_label(label)
        custody.enrol(passphrase, CHEAP)


def test_the_production_cost_is_owasps() -> None:
    """Once at full cost (N=2^17, r=8, p=1): about 128 MiB and a second or so."""
    enrolment = custody.enrol("the real passphrase, at full cost")
    assert (enrolment.cost, custody.SCRYPT_R, custody.SCRYPT_P) == (2**17, 8, 1)
    assert custody.unlock("the real passphrase, at full cost", enrolment)
