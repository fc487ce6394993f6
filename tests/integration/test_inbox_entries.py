"""``inbox_entries`` (open tasks per candidate group, kept by database triggers) always equals what
it stands for, whatever moved the tasks: history generated through the services (claims,
completions, returns, timers, cancellations), then claims, releases and reassignment by hand."""

from __future__ import annotations

from sqlalchemy import select

from support import ROOT


def offered(db) -> set:
    from app.models import HumanTask, TaskCandidate

    return set(db.session.execute(
        select(HumanTask.id, TaskCandidate.group_id, HumanTask.created_at)
        .join(TaskCandidate, TaskCandidate.task_id == HumanTask.id)
        .where(HumanTask.state == "open", HumanTask.candidate_user_id.is_(None))).all())


def entries(db) -> set:
    from app.models import InboxEntry

    return set(db.session.execute(select(InboxEntry.task_id, InboxEntry.group_id, InboxEntry.created_at)).all())


def test_inbox_entries_follow_every_task_move(app, api):
    from app.extensions import db

    runner = app.test_cli_runner()
    assert runner.invoke(args=["bpmn", "deploy", str(ROOT / "bpmn"), "--forms", str(ROOT / "forms")]).exit_code == 0
    out = runner.invoke(args=["demo", "generate", "--cases", "30", "--days", "6", "--seed", "3"])
    assert out.exit_code == 0, out.output
    with app.app_context():
        expected = offered(db)
        assert expected and entries(db) == expected
        db.session.remove()

    # By hand: a claim takes the task out of the group's inbox, a release puts it back.
    task = api.available("health1")[0]
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "health1").status_code == 200
    with app.app_context():
        assert task["id"] not in {t for t, _g, _c in entries(db)} and entries(db) == offered(db)
        db.session.remove()
    assert all(t["id"] != task["id"] for t in api.available("health2"))
    assert api.post(f"/api/v1/tasks/{task['id']}/unclaim", "health1").status_code == 200
    assert any(t["id"] == task["id"] for t in api.available("health2"))
    with app.app_context():
        assert entries(db) == offered(db)
        db.session.remove()


def test_available_pages_and_totals_match_the_definition(app, api, make_user):
    """The paged, merged inbox equals the plain query over open tasks of the user's groups."""
    from app.extensions import db
    from app.models import HumanTask, TaskCandidate, User

    runner = app.test_cli_runner()
    assert runner.invoke(args=["bpmn", "deploy", str(ROOT / "bpmn"), "--forms", str(ROOT / "forms")]).exit_code == 0
    assert runner.invoke(args=["demo", "generate", "--cases", "30", "--days", "3", "--seed", "9"]).exit_code == 0
    make_user("twogroups", ["reviewer"], ["health", "police", "medins"])  # the merged, de-duplicated path
    for username in ("window1", "health1", "police1", "medins1", "admin", "twogroups"):
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == username))
            mine = select(TaskCandidate.task_id).where(TaskCandidate.group_id.in_(user.group_ids or [-1]))
            expected = list(db.session.scalars(select(HumanTask.id).where(
                HumanTask.state == "open",
                (HumanTask.candidate_user_id.is_(None) & HumanTask.id.in_(mine))
                | (HumanTask.candidate_user_id == user.id)).order_by(HumanTask.created_at, HumanTask.id)))
            db.session.remove()
        if username == "twogroups":
            assert len(expected) >= 2, (username, len(expected))  # more than one page
        got, page = [], 1
        while True:
            body = api.get(f"/api/v1/tasks?view=available&page={page}&per_page=1", username).get_json()
            assert body["total"] == len(expected), username
            got += [t["id"] for t in body["items"]]
            if len(body["items"]) < 1:
                break
            page += 1
        assert got == expected, username
