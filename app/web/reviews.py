"""The public 好差评 page: an applicant rates a completed case with its receipt number and phone."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from .. import transaction
from ..errors import AppError, Conflict, InvalidInput, TooManyAttempts
from ..services import reviews

bp = Blueprint("web_reviews", __name__)


def level_labels() -> list[tuple[int, str]]:
    return [(5, _("Very satisfied")), (4, _("Satisfied")), (3, _("Basically satisfied")), (2, _("Unsatisfied")),
            (1, _("Very unsatisfied"))]


@bp.route("/review", methods=["GET", "POST"])
def review():
    """GET: the rating form. POST: check the receipt number and phone, record the rating."""
    form = request.form if request.method == "POST" else {}
    if request.method == "GET":
        return render_template("web/review.html", levels=level_labels(), form=form, errors={})
    try:
        level = int(form.get("level", ""))
    except ValueError:
        level = 0
    try:
        done = transaction.run(reviews.submit, form.get("receipt_no", ""), form.get("phone", ""), level,
                               form.get("comment", ""), "web", request.remote_addr)
        if isinstance(done, AppError):  # a mismatch is committed too: it counts towards the lock
            raise done
    except (InvalidInput, Conflict, TooManyAttempts) as exc:
        errors = exc.errors if isinstance(exc.errors, dict) and exc.status == 422 else {"receipt_no": [exc.message]}
        return render_template("web/review.html", levels=level_labels(), form=form, errors=errors,
                               message=exc.message), exc.status
    return render_template("web/review_done.html", review=done, bad=done.level in reviews.BAD)
