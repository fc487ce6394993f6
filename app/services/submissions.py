"""One case per application sent (受理一次): a repeated submission returns the case it started.

The window's new-case form carries a key made when the form is shown, an API client may send an
``Idempotency-Key`` header. When the same user sends the same key again (a double click on
确认受理, a form re-sent over a slow line, a client retrying after a timeout), the case the first
submission started comes back and nothing is started a second time: no second receipt number,
no second set of department tasks. Two submissions racing each other meet at the unique key: the
loser's transaction fails, and its replay (``transaction.run``) finds the winner's case.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid

from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import Conflict, InvalidInput
from ..extensions import db
from ..models import Case, CaseSubmission, User
from ..models.types import utcnow

# Printable ASCII without spaces, as the Idempotency-Key drafts and UUIDs have it.
_KEY = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def new_key() -> str:
    """A key for one form as shown."""
    return uuid.uuid4().hex


def check_key(key: str | None, field: str = "submission_key") -> str | None:
    """The key stripped, None when absent; InvalidInput naming ``field`` when malformed."""
    if key is None or not key.strip():
        return None
    key = key.strip()
    if not _KEY.fullmatch(key):
        raise InvalidInput(_("Please correct the marked fields."), {
            field: [_("8 to 64 letters, digits or . _ : - characters.")]})
    return key


def fingerprint(process_key: str, applicant: dict, detail: str | None = None) -> str:
    """What identifies an application: its bundle and its applicant (name, ID number, phone), and
    ``detail`` where the applicant alone does not (a 12345 caller's request text)."""
    parts = {"process_key": process_key, "applicant": {k: (applicant or {}).get(k) for k in _APPLICANT},
             "detail": detail}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


_APPLICANT = ("name", "id_number", "phone")


def start_once(user: User, key: str | None, print_: str, start, *args, **kwargs) -> tuple[Case, bool]:
    """``start(user, *args, **kwargs)`` unless ``user`` already started a case with ``key``:
    return (case, True) for a new case, (the earlier case, False) for a repeat. ``print_``
    (:func:`fingerprint`) must match the earlier submission's, else 409 ``submission_key_reused``."""
    if key is None:
        return start(user, *args, **kwargs), True
    earlier = db.session.execute(
        select(Case, CaseSubmission.fingerprint).join(CaseSubmission, CaseSubmission.case_id == Case.id)
        .where(CaseSubmission.user_id == user.id, CaseSubmission.key == key)).first()
    if earlier is not None:
        case, earlier_print = earlier
        if earlier_print != print_:
            refused = Conflict(_("This form was already sent for another application (receipt %(receipt)s). "
                                 "Open a new form to start this one.", receipt=case.receipt_no),
                               error="submission_key_reused")
            refused.case = case  # for a caller that words it in its own terms
            raise refused
        return case, False
    case = start(user, *args, **kwargs)
    db.session.add(CaseSubmission(user_id=user.id, key=key, fingerprint=print_, case_id=case.id,
                                  created_at=utcnow()))
    db.session.flush()
    return case, True
