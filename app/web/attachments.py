"""Attachment downloads, for whoever may see the case."""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import PurePosixPath
from urllib.parse import quote

from flask import Blueprint, send_file
from flask_login import current_user, login_required

from ..services import attachments, cases

bp = Blueprint("web_attachments", __name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _disposition(filename: str, attachment_id: int) -> str:
    """``attachment`` with an ASCII fallback name and the real (e.g. Chinese) name per RFC 5987."""
    path = PurePosixPath(filename)
    ascii_stem = _UNSAFE.sub("_", unicodedata.normalize("NFKD", path.stem).encode("ascii", "ignore").decode())
    suffix = _UNSAFE.sub("", path.suffix)
    fallback = (ascii_stem.strip("_.") or f"attachment-{attachment_id}") + suffix
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@bp.get("/cases/<int:case_id>/attachments/<int:attachment_id>")
@login_required
def download(case_id: int, attachment_id: int):
    """Send one attachment as a download with its original name (404 when the case is not visible)."""
    case = cases.get_case(current_user._get_current_object(), case_id)
    attachment = attachments.get(case, attachment_id)
    content = attachments.read(attachment)
    response = send_file(io.BytesIO(content), mimetype=attachment.content_type, etag=attachment.sha256, max_age=0)
    response.headers["Content-Disposition"] = _disposition(attachment.filename, attachment.id)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Personal documents: never stored by shared caches, never run as a page on our origin.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
