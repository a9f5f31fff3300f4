"""Staff accounts from invitation to deletion: links, roles, disabling, sessions, last admin."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey import db
from survey.models import AccountToken, Role, StaffSession, User
from survey.services import accounts
from tests.conftest import PASSWORD, STAFF

NOW = dt.datetime(2026, 12, 1, 9, 0)
NEW_PASSWORD = "a brand new passphrase"
SECRET = b"s" * 32


def login(session: Session, email: str, password: str) -> User | None:
    return accounts.authenticate(session, email, password, NOW, "192.0.2.1", SECRET).user


def sessions_of(session: Session, user: User) -> int:
    query = select(func.count()).select_from(StaffSession).where(StaffSession.user_id == user.id)
    return int(session.scalar(query) or 0)


def test_invitation_link_sets_the_password_once(app: Flask) -> None:
    with db.session_scope(app) as session:
        invited = accounts.invite_user(session, " New@Example.org ", "hr", NOW, 72)
        session.commit()
        user = invited.user
        assert user.email == "new@example.org" and user.password_hash == accounts.NO_PASSWORD
        # No password works before the link is used, not even an empty one.
        assert login(session, "new@example.org", "") is None
        # Only the link's hash is stored.
        stored = session.scalars(select(AccountToken.token_hash)).all()
        assert invited.token.encode() not in b"".join(stored) and len(stored) == 1
        assert accounts.link_user(session, invited.token, NOW) is user
        assert accounts.link_user(session, invited.token + "x", NOW) is None
        with pytest.raises(accounts.AccountError, match="at least"):
            accounts.redeem_link(session, invited.token, "short", NOW)
        accounts.redeem_link(session, invited.token, NEW_PASSWORD, NOW)
        session.commit()
        assert login(session, "new@example.org", NEW_PASSWORD) is user
        with pytest.raises(accounts.AccountError, match="expired or was already used"):
            accounts.redeem_link(session, invited.token, "another passphrase!", NOW)


def test_links_expire_and_a_new_one_replaces_the_old(app: Flask) -> None:
    with db.session_scope(app) as session:
        first = accounts.invite_user(session, "late@example.org", "leader", NOW, 1)
        second = accounts.issue_link(session, first.user, NOW, 1)
        session.commit()
        assert accounts.link_user(session, first.token, NOW) is None
        later = NOW + dt.timedelta(hours=1, seconds=1)
        assert accounts.link_user(session, second.token, later) is None
        with pytest.raises(accounts.AccountError):
            accounts.redeem_link(session, second.token, NEW_PASSWORD, later)


def test_manager_units_and_roles(app: Flask) -> None:
    from survey.services import org

    with db.session_scope(app) as session:
        root = org.add_unit(session, "Lab", None)
        team = org.add_unit(session, "Team", root)
        made = accounts.invite_user(session, "m@example.org", "manager", NOW, 72, [team.id])
        assert [u.unit_id for u in made.user.units] == [team.id]
        with pytest.raises(accounts.AccountError, match="no such unit"):
            accounts.set_units(session, made.user, [team.id, 9999])
        accounts.change_role(session, made.user, "leader")
        assert made.user.role is Role.LEADER and made.user.units == []
        with pytest.raises(accounts.AccountError, match="Only managers"):
            accounts.set_units(session, made.user, [team.id])
        with pytest.raises(accounts.AccountError, match="role must be one of"):
            accounts.change_role(session, made.user, "owner")
        session.commit()


def test_disable_ends_sessions_and_login(app: Flask) -> None:
    with db.session_scope(app) as session:
        hr = accounts.find_user(session, STAFF["hr"])
        sids = [accounts.start_session(session, hr, NOW, 8) for _ in range(3)]
        session.commit()
        accounts.disable(session, hr)
        session.commit()
        assert sessions_of(session, hr) == 0
        assert all(accounts.session_user(session, sid, NOW) is None for sid in sids)
        assert login(session, STAFF["hr"], PASSWORD) is None
        accounts.enable(hr)
        session.commit()
        assert login(session, STAFF["hr"], PASSWORD) is hr


def test_password_change_ends_every_session(app: Flask) -> None:
    with db.session_scope(app) as session:
        leader = accounts.find_user(session, STAFF["leader"])
        accounts.start_session(session, leader, NOW, 8)
        accounts.start_session(session, leader, NOW, 8)
        with pytest.raises(accounts.AccountError, match="current password is wrong"):
            accounts.change_password(session, leader, "not it", NEW_PASSWORD)
        assert sessions_of(session, leader) == 2
        accounts.change_password(session, leader, PASSWORD, NEW_PASSWORD)
        session.commit()
        assert sessions_of(session, leader) == 0
        assert login(session, STAFF["leader"], PASSWORD) is None
        assert login(session, STAFF["leader"], NEW_PASSWORD) is leader


@pytest.mark.parametrize("change", ["disable", "delete", "demote"])
def test_the_last_active_admin_stays(app: Flask, change: str) -> None:
    with db.session_scope(app) as session:
        admin = accounts.find_user(session, STAFF["admin"])

        def apply(user: User) -> None:
            if change == "disable":
                accounts.disable(session, user)
            elif change == "delete":
                accounts.delete_user(session, user)
            else:
                accounts.change_role(session, user, "hr")

        with pytest.raises(accounts.AccountError, match="last active admin"):
            apply(admin)
        # With a second active admin it works; a disabled admin does not count.
        second = accounts.create_user(session, "second@example.org", "admin", NEW_PASSWORD)
        accounts.disable(session, second)
        with pytest.raises(accounts.AccountError, match="last active admin"):
            apply(admin)
        accounts.enable(second)
        apply(admin)
        session.commit()
        with pytest.raises(accounts.AccountError, match="last active admin"):
            apply(second)


def test_delete_removes_sessions_links_and_units(app: Flask) -> None:
    with db.session_scope(app) as session:
        made = accounts.invite_user(session, "gone@example.org", "hr", NOW, 72)
        accounts.start_session(session, made.user, NOW, 8)
        session.commit()
        accounts.delete_user(session, made.user)
        session.commit()
        assert session.scalar(select(User).where(User.email == "gone@example.org")) is None
        assert session.scalar(select(func.count()).select_from(AccountToken)) == 0
        assert session.scalar(select(func.count()).select_from(StaffSession)) == 0
        with pytest.raises(accounts.AccountError, match="there is no account"):
            accounts.find_user(session, "gone@example.org")
