"""Case attachments: checked by content (PDF/JPEG/PNG), size-limited, stored by SHA-256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import InvalidInput, NotFound
from ..extensions import db
from ..models import Attachment, Case, User
from ..models.types import utcnow
from . import audit

# Signature bytes -> content type. The declared type and the file name are not trusted.
_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def sniff(content: bytes) -> str | None:
    """Return the content type of a PDF, JPEG or PNG, else None."""
    for magic, content_type in _SIGNATURES:
        if content.startswith(magic):
            return content_type
    return None


def _path(sha256: str) -> Path:
    return Path(current_app.config["ATTACHMENT_DIR"]) / sha256[:2] / sha256


def add(case: Case, user: User, filename: str, content: bytes, field: str = "attachments",
        task=None) -> Attachment:
    """Store one file for ``case`` (raise InvalidInput for a wrong type or size), optionally
    recorded as added on ``task``."""
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    name = PurePosixPath((filename or "").replace("\\", "/")).name[:255] or "file"
    if len(content) == 0:
        raise InvalidInput(_("The file is empty."), {field: [_("%(name)s is empty.", name=name)]})
    if len(content) > limit:
        raise InvalidInput(_("The file is too large."), {field: [
            _("%(name)s is larger than %(mb)s MB.", name=name, mb=limit // (1024 * 1024))]})
    content_type = sniff(content)
    if content_type is None:
        raise InvalidInput(_("Only PDF, JPEG and PNG files are accepted."), {field: [
            _("%(name)s is not a PDF, JPEG or PNG file.", name=name)]})
    digest = hashlib.sha256(content).hexdigest()
    path = _path(digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)  # atomic: a concurrent writer of the same bytes is harmless
    attachment = Attachment(case_id=case.id, task_id=task.id if task is not None else None, filename=name,
                            content_type=content_type, size=len(content), sha256=digest, uploaded_by_id=user.id,
                            uploaded_at=utcnow())
    db.session.add(attachment)
    db.session.flush()
    audit.record(case, "attachment_added", user, task,
                 data={"filename": name, "sha256": digest, "size": len(content)})
    return attachment


def list_for_case(case: Case) -> list[Attachment]:
    """Return the case's attachments, oldest first."""
    return list(db.session.scalars(
        select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.uploaded_at, Attachment.id)))


def get(case: Case, attachment_id: int) -> Attachment:
    """Return one attachment of ``case`` or raise NotFound."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.case_id != case.id:
        raise NotFound("No such attachment.")
    return attachment


def read(attachment: Attachment) -> bytes:
    """Return the stored bytes, verifying the checksum."""
    try:
        content = _path(attachment.sha256).read_bytes()
    except FileNotFoundError:
        raise NotFound("The stored file is missing.") from None
    if hashlib.sha256(content).hexdigest() != attachment.sha256:
        raise NotFound("The stored file is damaged.")
    return content
