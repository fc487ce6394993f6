"""Organisation: departments (部门/科室), candidate groups, users and their API tokens."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .types import JSONType, UTCDateTime, utcnow

ROLES = ("admin", "designer", "clerk", "helper", "reviewer", "section_chief", "supervisor", "leader")

group_memberships = Table(
    "group_memberships",
    db.Model.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)


class Department(db.Model):
    """A department or section (部门/科室) with a code."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))


class Group(db.Model):
    """A candidate group: one window team or one department team."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))

    department: Mapped[Department | None] = relationship()


class User(UserMixin, db.Model):
    """A person who logs in; roles say what they may do, groups which tasks they see."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    roles: Mapped[list] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Login throttling in the database, so it holds across hosts: failures since the last success,
    # and the end of a lock-out after too many of them.
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the password was last set (None: before this was kept; its age counts from created_at),
    # and whether its user must choose a new one (an administrator set it) before doing anything.
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(default=False)

    # Loaded when read: most users a request loads (holders, starters, actors in a history) are shown
    # by name only; the signed-in user's groups come with the token lookup or on first permission check.
    groups: Mapped[list[Group]] = relationship(secondary=group_memberships, lazy="select")

    @property
    def is_active(self) -> bool:  # flask-login
        return self.active

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password`` (method from PASSWORD_HASH_METHOD)."""
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)
        self.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        """Whether ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    def has_role(self, *roles: str) -> bool:
        """Whether the user has any of ``roles``."""
        return any(r in (self.roles or []) for r in roles)

    @property
    def group_ids(self) -> list[int]:
        return [g.id for g in self.groups]

    @property
    def group_codes(self) -> list[str]:
        return [g.code for g in self.groups]


class ApiToken(db.Model):
    """A bearer token. Only its SHA-256 is stored; it expires and can be revoked."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    # A label for tokens made for another system (``flask tokens create --name``), e.g. the hotline.
    name: Mapped[str | None] = mapped_column(String(100))
    # What the token may call (app.services.org.TOKEN_SCOPES); None: whatever its user may.
    scopes: Mapped[list | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginThrottle(db.Model):
    """Failed logins under a name that is no active user's, counted like a user's own
    (``User.failed_logins``/``locked_until``), so that the answers to a login do not tell which
    names exist. The name is kept only as its SHA-256; rows that neither lock nor count any more
    are deleted as new failures come in (app.services.org)."""

    __tablename__ = "login_throttles"

    name_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
