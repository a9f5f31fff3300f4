"""The instance's own settings, the organisation tree and the roster of people who may be invited.

Invariant: a person is on the roster to be invited, and nothing that holds an answer refers to
a person (see :mod:`survey.models.ballots`).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base


class Setting(Base):
    """Instance-wide facts written once at initialisation, such as the key canary."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class OrgUnit(Base):
    """A node of the organisation tree (organisation, department, team...)."""

    __tablename__ = "org_units"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[OrgUnit]] = relationship(back_populates="parent")


class Person(Base):
    """Someone on the roster who can be invited. Never referenced by an answer."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    tenure_band: Mapped[str] = mapped_column(String(32), default="unstated")
    active: Mapped[bool] = mapped_column(default=True)
    unit: Mapped[OrgUnit] = relationship()
