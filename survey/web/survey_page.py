"""What the survey form shows, read in one go, and the copy each process keeps of it.

Invariant: the survey form can always be shown again with the answers someone sent, even
while the database is down, restarting or locked, as long as this process has shown the
round's form before. The copy holds only what every invited person sees (the round's frozen
questions, its label and thresholds, the actions and link hand-outs on its page, its public
ballot keys), never anything about who answers; it is replaced each time the page is read.
All of a round's public ballot keys are kept too, read once per process.

A page carries all its round's ballot keys when there are at most :data:`CARRIED_KEYS_MAX`:
then the page's script blinds for the code's key without asking for it, so no request names
the group of whoever opened a link. A round with more keys (a page that would grow by more
than a few kilobytes for everyone) has its script fetch the one key it needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g

from ..db import UNAVAILABLE, abandon_session, get_session
from ..domain.questions import Bank, Item
from ..kept import Kept
from ..services import actions, audit_trail, ballotkeys, submission

# Where the copies live (app.extensions), and how many rounds' copies a process keeps.
PAGES = "candor.survey_pages"
PAGES_KEPT = 64
# And the ballot keys of the rounds this process has handed keys out for, all of a round's at
# once (so whether a key comes from the copy tells only that someone opened this round here,
# as the page's own copy does, never which group). A round's keys are all made when it opens;
# a round that has opened is never deleted (a restore needs an empty database); and a public
# half stays public after its round closes (/privacy/rounds/<id>/keys), whose check-in then
# says so. So a copy needs no checking.
KEYS = "candor.ballot_keys"
KEYS_KEPT = 64
# At most this many keys ride on the page (about 420 bytes each, as JSON).
CARRIED_KEYS_MAX = 40


@dataclass(frozen=True)
class RoundBallotKeys:
    """A round's public ballot keys by id, and what a page carries of them (see shown_key):
    all, by key id as text, or none when the round has more than CARRIED_KEYS_MAX."""

    by_id: dict[int, ballotkeys.PublicBallotKey]
    carried: dict[str, dict[str, str | int]]


@dataclass(frozen=True)
class ShownRound:
    """The round as its survey page names it."""

    id: int
    label: str
    k: int | None
    comment_k: int | None


@dataclass(frozen=True)
class SurveyPage:
    """Everything the survey form shows, as plain values: showing it reads no database."""

    round: ShownRound
    bank: Bank
    items: tuple[Item, ...]
    unlinkable_required: bool
    actions: tuple[actions.ShownAction, ...]
    handed_out: tuple[audit_trail.LinksHandedOut, ...]
    # The round's public ballot keys as the page carries them (RoundBallotKeys.carried).
    keys: dict[str, dict[str, str | int]]


def read(round_id: int) -> SurveyPage:
    """Read the survey page of an open round and keep it as this process's copy.

    Raises what :func:`submission.survey_for` raises, or one of :data:`UNAVAILABLE`. It only
    reads, so on a GET it opens the session as :func:`..db.get_session`'s ``reads_only``.
    """
    session = get_session(reads_only=True)
    survey = submission.survey_for(session, round_id)
    rnd = survey.round
    page = SurveyPage(
        ShownRound(rnd.id, rnd.label, rnd.k, rnd.comment_k),
        survey.bank,
        survey.items,
        rnd.unlinkable_required,
        tuple(actions.actions_for_next_rounds(session, rnd.program_id, rnd.number)),
        tuple(audit_trail.links_handed_out(session, rnd.id)),
        _round_keys(round_id).carried,
    )
    pages: Kept[int, SurveyPage] | None = current_app.extensions.get(PAGES)
    if pages is None:
        pages = current_app.extensions.setdefault(PAGES, Kept(PAGES_KEPT))
    pages.put(round_id, page)
    return page


def kept(round_id: int) -> SurveyPage | None:
    """Return this process's copy of a round's survey page, if it has shown one."""
    pages: Kept[int, SurveyPage] | None = current_app.extensions.get(PAGES)
    return pages.get(round_id) if pages is not None else None


def ballot_key(round_id: int, key_id: int) -> ballotkeys.PublicBallotKey | None:
    """Return a ballot key of a round, or None if the round has no such key: from this
    process's copy of the round's keys if it has one, else read (with all the round's keys,
    kept) if the round is open.

    The copy is used without a database read, even once the round has closed or while the
    database is down. Without one, raises what :func:`submission.survey_for` raises, or one of
    :data:`UNAVAILABLE`.
    """
    return _round_keys(round_id, checked=False).by_id.get(key_id)


def shown_key(key: ballotkeys.PublicBallotKey) -> dict[str, str | int]:
    """Return what a page or a key request shows of a ballot key: its id, fingerprint and
    public numbers (``n``, ``e``), never its storage label."""
    return {"key_id": key.key_id, "fingerprint": key.fingerprint, **key.jwk}


def _round_keys(round_id: int, *, checked: bool = True) -> RoundBallotKeys:
    """Return all of a round's ballot keys, from this process's copy or read and kept.

    ``checked``: the caller has already found the round open in this request."""
    kept_keys: Kept[int, RoundBallotKeys] | None = current_app.extensions.get(KEYS)
    if kept_keys is None:
        kept_keys = current_app.extensions.setdefault(KEYS, Kept(KEYS_KEPT))
    keys = kept_keys.get(round_id)
    if keys is None:
        session = get_session(reads_only=True)
        if not checked:
            submission.survey_for(session, round_id)
        found = ballotkeys.public_keys(session, round_id)
        carried = (
            {str(key.key_id): shown_key(key) for key in found}
            if len(found) <= CARRIED_KEYS_MAX
            else {}
        )
        keys = kept_keys.put(round_id, RoundBallotKeys({key.key_id: key for key in found}, carried))
    return keys


def again(round_id: int) -> SurveyPage | None:
    """Return the survey page to show a form again: read now or, if the database cannot
    answer (or the round is no longer open), this process's copy, if any."""
    try:
        return read(round_id)
    except UNAVAILABLE:
        database_gone()
    except (submission.LinkUnusable, submission.RoundNotOpen):
        abandon_session()
    return kept(round_id)


def database_gone() -> None:
    """Forget this request's session and everything loaded through it, so that the page
    shown next reads nothing more from a database that is not answering."""
    abandon_session()
    g.user = None  # the staff menu of base.html would read the account
