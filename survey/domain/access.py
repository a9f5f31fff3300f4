"""Who may open which page: staff roles and the one policy table.

Invariant: every endpoint of the app has exactly one entry in :data:`POLICY` (a test walks
``app.url_map`` and fails on a route without one); an entry is either :data:`ANYONE` (public
pages, the survey, static files) or the set of staff roles allowed in. Everyone else is refused:
a visitor without a session is sent to the login page, a staff member of another role gets 403.
Which *units* an allowed staff member then sees on a results page is :mod:`survey.domain.scope`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final, Literal


class Role(enum.StrEnum):
    """What a staff account may see and do."""

    ADMIN = "admin"
    HR = "hr"
    LEADER = "leader"
    MANAGER = "manager"


ANYONE: Final = "anyone"
Audience = frozenset[Role] | Literal["anyone"]

ADMINS: Final = frozenset({Role.ADMIN})
ANALYSTS: Final = frozenset({Role.ADMIN, Role.HR})
# Everyone with a staff account: the reports page and its charts and CSV, each cut to the
# reader's scope, and their own account.
STAFF: Final = frozenset(Role)
# The printable report is the organisation's (organisation and departments).
ORGANISATION_READERS: Final = frozenset({Role.ADMIN, Role.HR, Role.LEADER})

POLICY: Final[Mapping[str, Audience]] = {
    "static": ANYONE,
    # pages anyone may read
    "public.index": ANYONE,
    "public.privacy": ANYONE,
    "public.release_manifest": ANYONE,
    "public.ballot_keys": ANYONE,
    # the survey: the one-time link is the only credential
    "employee.show": ANYONE,
    "employee.answer": ANYONE,
    "employee.check_in": ANYONE,
    "employee.ballot": ANYONE,
    "employee.ballot_key": ANYONE,
    "employee.thanks": ANYONE,
    # logging in, and the one-time set-password link (the token is the credential)
    "auth.login": ANYONE,
    "auth.logout": ANYONE,
    "auth.set_password": ANYONE,
    # single sign-on: the provider's signed answer is the credential (survey/web/sso.py)
    "sso.start": ANYONE,
    "sso.callback": ANYONE,
    # one's own account
    "auth.account": STAFF,
    "auth.change_password": STAFF,
    "auth.logout_everywhere": STAFF,
    # results
    "dashboard.index": ANALYSTS,
    "dashboard.trends": ANALYSTS,
    "dashboard.heatmap": ANALYSTS,
    "dashboard.distributions": ANALYSTS,
    "dashboard.comments": ANALYSTS,
    "dashboard.add_event": ANALYSTS,
    "dashboard.delete_event": ANALYSTS,
    "dashboard.heatmap_chart": ANALYSTS,
    "dashboard.trend_chart": STAFF,
    "reports.index": STAFF,
    "reports.export_csv": STAFF,
    "reports.report_pdf": ORGANISATION_READERS,
    "actions.index": ANALYSTS,
    "actions.record": ANALYSTS,
    "actions.delete": ANALYSTS,
    "actions.show": ANALYSTS,
    "actions.edit_plan": ANALYSTS,
    "actions.add_update": ANALYSTS,
    # running the instance
    "admin.index": ADMINS,
    "admin.mail_settings": ADMINS,
    "admin.new_round": ADMINS,
    "admin.program": ADMINS,
    "admin.round_action": ADMINS,
    "admin.schedule": ANALYSTS,
    "admin.export_links": ADMINS,
    "sending.round_page": ADMINS,
    # custodians enter their passphrases in turn to release a custodian-mode round (H4)
    "custody.round_page": ANALYSTS,
    "custody.abandon": ANALYSTS,
    "sending.mail_status": ADMINS,
    "sending.send": ADMINS,
    "people.index": ADMINS,
    "people.preview": ADMINS,
    "people.apply": ADMINS,
    "people.person": ADMINS,
    "people.add_person": ADMINS,
    "people.set_active": ADMINS,
    "banks.index": ADMINS,
    "banks.export": ADMINS,
    "banks.import_": ADMINS,
    "banks.preview": ADMINS,
    "accounts.index": ADMINS,
    "accounts.invite": ADMINS,
    "accounts.change": ADMINS,
    "accounts.units": ADMINS,
}

# Where each role lands after logging in.
START_PAGES: Final[Mapping[Role, str]] = {
    Role.ADMIN: "dashboard.index",
    Role.HR: "dashboard.index",
    Role.LEADER: "reports.index",
    Role.MANAGER: "reports.index",
}


def audience(endpoint: str | None) -> Audience | None:
    """Return who may open ``endpoint``, or None when the table has no decision for it."""
    if endpoint is None:
        return None
    return POLICY.get(endpoint)


def may_open(role: Role | None, endpoint: str) -> bool:
    """Return whether a visitor with ``role`` (None: not logged in) may open ``endpoint``.

    An endpoint without a decision is refused to everyone.
    """
    allowed = POLICY.get(endpoint)
    if allowed is None:
        return False
    return allowed == ANYONE or (role is not None and role in allowed)


def endpoints_for(role: Role) -> frozenset[str]:
    """Return every endpoint ``role`` may open."""
    return frozenset(e for e in POLICY if may_open(role, e))
