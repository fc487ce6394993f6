"""Deployed process definitions: immutable, content-hashed versions of a process key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .org import User
from .types import JSONType, UTCDateTime, utcnow


class ProcessDefinition(db.Model):
    """A process key (the BPMN process id) and its display name."""

    __tablename__ = "process_definitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    latest_version: Mapped[int] = mapped_column(default=0)

    versions: Mapped[list[ProcessVersion]] = relationship(
        back_populates="definition", order_by="ProcessVersion.version")


class ProcessVersion(db.Model):
    """One deployment: the uploaded files, their hash and what the engine found in them."""

    __tablename__ = "process_versions"
    __table_args__ = (UniqueConstraint("definition_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    # {"start_form": ..., "user_tasks": [{bpmn_id, name, lane, groups, form}], "end_events": {...}}
    meta: Mapped[dict] = mapped_column(JSONType, default=dict)
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    definition: Mapped[ProcessDefinition] = relationship(back_populates="versions")
    deployed_by: Mapped[User | None] = relationship()
    files: Mapped[list[ProcessFile]] = relationship(
        back_populates="version", order_by="ProcessFile.filename", lazy="select")

    @property
    def key(self) -> str:
        return self.definition.key

    def file_map(self, kind: str | None = None) -> dict[str, bytes]:
        """Return ``{filename: content}`` of this version's files, optionally of one kind."""
        return {f.filename: f.content for f in self.files if kind is None or f.kind == kind}


class ProcessFile(db.Model):
    """A file of a deployment: a BPMN or DMN diagram or a JSON Schema form."""

    __tablename__ = "process_files"
    __table_args__ = (UniqueConstraint("version_id", "filename"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # bpmn | dmn | form
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))

    version: Mapped[ProcessVersion] = relationship(back_populates="files")


class DeploymentEvent(db.Model):
    """The audit trail of deployments: deployed, unchanged, refused, requested, approved, rejected."""

    __tablename__ = "deployment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))
    process_key: Mapped[str | None] = mapped_column(String(200), index=True)
    version: Mapped[int | None]
    detail: Mapped[dict | None] = mapped_column(JSONType)

    actor: Mapped[User | None] = relationship()
