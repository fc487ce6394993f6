"""Inboxes and task actions."""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint

from .. import transaction
from ..services import saved_filters, tasks
from ..services.cases import read_answer
from .schemas import (
    CaseSchema,
    CompleteRequestSchema,
    SavedFilterSchema,
    TaskDetailSchema,
    TaskListQuerySchema,
    TaskListSchema,
    TaskSchema,
)

blp = Blueprint("tasks", __name__, description="Task inboxes, claims and completions")


def _user():
    return current_user._get_current_object()


@blp.route("/tasks", methods=["GET"])
@blp.arguments(TaskListQuerySchema, location="query")
@blp.response(200, TaskListSchema)
def list_tasks(query):
    """available: open tasks of my groups (oldest first); mine: claimed by me; completed: done by me."""
    return tasks.inbox(_user(), query["view"], query["page"], query["per_page"])


@blp.route("/tasks/<int:task_id>", methods=["GET"])
@blp.response(200, TaskDetailSchema)
def get_task(task_id):
    """A task with its form schema and the case data it shows."""
    return tasks.get_task(_user(), task_id)


@blp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@blp.response(200, TaskSchema)
def claim_task(task_id):
    """Claim an open task of your groups (409 if someone else holds it)."""
    return transaction.run(tasks.claim, _user(), task_id)


@blp.route("/tasks/<int:task_id>/unclaim", methods=["POST"])
@blp.response(200, TaskSchema)
def unclaim_task(task_id):
    """Release a claimed task (its holder or an admin)."""
    return transaction.run(tasks.unclaim, _user(), task_id)


@blp.route("/tasks/<int:task_id>/complete", methods=["POST"])
@blp.arguments(CompleteRequestSchema)
@blp.response(200, CaseSchema)
def complete_task(body, task_id):
    """Complete a task you hold; the data must satisfy its form. Returns the updated case."""
    return transaction.run(tasks.complete, _user(), task_id, body["data"], before_commit=read_answer)


@blp.route("/saved-filters", methods=["GET"])
@blp.response(200, SavedFilterSchema(many=True))
def list_saved_filters():
    """Your saved inbox filters (常用筛选), by name."""
    return saved_filters.list_for(_user())


@blp.route("/saved-filters", methods=["POST"])
@blp.arguments(SavedFilterSchema)
@blp.response(201, SavedFilterSchema)
def save_filter(body):
    """Save the inbox view under a name (the same name replaces it)."""
    return transaction.run(saved_filters.save, _user(), body["name"], body["query"])


@blp.route("/saved-filters/<int:filter_id>", methods=["DELETE"])
@blp.response(204)
def delete_filter(filter_id):
    """Delete one of your saved filters."""
    transaction.run(saved_filters.delete, _user(), filter_id)
