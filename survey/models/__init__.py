"""The typed ORM schema, one module per area; every table is importable from here.

Invariant: nothing in ``invitations``, ``responses`` or ``comments`` names a person, carries a
time, or has an identifier that follows insertion order (:mod:`survey.models.ballots`). Staff,
roster and programme tables are ordinary: they describe who may log in and who may be invited,
never who answered what. The enums re-exported here live in the domain, beside their rules.
"""

from __future__ import annotations

from ..domain.access import Role
from ..domain.cadence import Cadence
from ..domain.custody import Custody
from ..domain.lifecycle import ActionStatus, RoundStatus
from .ballots import (
    ANONYMOUS_TABLES,
    BallotKey,
    CheckIn,
    Comment,
    InboxEntry,
    Invitation,
    QuarantinedRow,
    Response,
    RoundMix,
    SpentBallot,
)
from .base import NAMING, Base
from .custody import Custodian, CustodyShare, PendingShare, RoundCustody
from .org import OrgUnit, Person, Setting
from .programme import (
    Action,
    ActionUpdate,
    Delivery,
    MailRun,
    ParticipationSnapshot,
    Program,
    QuestionBankRecord,
    Release,
    Round,
    TimelineEvent,
)
from .staff import (
    AccountToken,
    AuditEvent,
    LoginThrottle,
    ManagerUnit,
    SsoIdentity,
    StaffSession,
    User,
)

__all__ = [
    "ANONYMOUS_TABLES",
    "AccountToken",
    "Action",
    "ActionStatus",
    "ActionUpdate",
    "AuditEvent",
    "BallotKey",
    "Base",
    "Cadence",
    "CheckIn",
    "Comment",
    "Custodian",
    "Custody",
    "CustodyShare",
    "Delivery",
    "InboxEntry",
    "Invitation",
    "LoginThrottle",
    "MailRun",
    "ManagerUnit",
    "NAMING",
    "OrgUnit",
    "ParticipationSnapshot",
    "PendingShare",
    "Person",
    "Program",
    "QuarantinedRow",
    "QuestionBankRecord",
    "Release",
    "Response",
    "Role",
    "Round",
    "RoundCustody",
    "RoundMix",
    "RoundStatus",
    "Setting",
    "SpentBallot",
    "SsoIdentity",
    "StaffSession",
    "TimelineEvent",
    "User",
]
