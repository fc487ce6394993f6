"""Constants and helpers shared by tests. Import them from here, never from a conftest
(several conftest.py files exist, so ``import conftest`` is ambiguous)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
PASSWORD = "changzhi2025"


def truncate(db) -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy import text

        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        from sqlalchemy import text

        # The audit trail is append-only (triggers); clearing test data is the operator's purge.
        db.session.execute(text("INSERT INTO audit_maintenance (id) VALUES (1)"))
        for table in reversed(db.metadata.sorted_tables):
            if table.name != "audit_maintenance":
                db.session.execute(table.delete())
        db.session.execute(text("DELETE FROM audit_maintenance"))
    db.session.commit()


class Api:
    """A tiny JSON API client over the Flask test client with per-user bearer tokens."""

    def __init__(self, client):
        self.client = client
        self.tokens: dict[str, str] = {}

    def token(self, username: str, password: str = PASSWORD) -> str:
        if username not in self.tokens:
            r = self.client.post("/api/v1/auth/token", json={"username": username, "password": password})
            assert r.status_code == 200, r.get_json()
            self.tokens[username] = r.get_json()["token"]
        return self.tokens[username]

    def headers(self, user: str | None) -> dict:
        return {"Authorization": f"Bearer {self.token(user)}"} if user else {}

    def get(self, path, user=None, **kw):
        return self.client.get(path, headers=self.headers(user), **kw)

    def post(self, path, user=None, **kw):
        return self.client.post(path, headers=self.headers(user), **kw)

    def deploy(self, *paths: Path, user: str = "designer"):
        import io

        files = [(io.BytesIO(p.read_bytes()), p.name) for p in paths]
        return self.client.post("/api/v1/processes", headers=self.headers(user),
                                data={"file": files}, content_type="multipart/form-data")

    def start(self, process_key: str, data: dict | None = None, user: str = "window1", applicant=None):
        applicant = applicant or {"name": "王小明", "id_number": "140402199001011234", "phone": "13812341234"}
        return self.post("/api/v1/cases", user, json={"process_key": process_key, "applicant": applicant,
                                                        "data": data or {}})

    def available(self, user: str, page: int = 1) -> list[dict]:
        r = self.get(f"/api/v1/tasks?view=available&per_page=100&page={page}", user)
        assert r.status_code == 200, r.get_json()
        return r.get_json()["items"]

    def find_task(self, user: str, bpmn_id: str, case_id: int | None = None) -> dict:
        """The user's oldest available ``bpmn_id`` task (of ``case_id``), on whichever page it is."""
        page = 1
        while items := self.available(user, page):
            for item in items:
                if item["bpmn_id"] == bpmn_id and (case_id is None or item["case_id"] == case_id):
                    return item
            page += 1
        raise AssertionError(f"{user} has no available task {bpmn_id} (case {case_id})")

    def do(self, user: str, bpmn_id: str, data: dict, case_id: int | None = None) -> dict:
        """Claim and complete a task; return the updated case."""
        task = self.find_task(user, bpmn_id, case_id)
        r = self.post(f"/api/v1/tasks/{task['id']}/claim", user)
        assert r.status_code == 200, r.get_json()
        r = self.post(f"/api/v1/tasks/{task['id']}/complete", user, json={"data": data})
        assert r.status_code == 200, r.get_json()
        return r.get_json()


def local_today():
    """Today in the service centre's time zone (the KPIs, the audit export and the receipt numbers
    count local days: between 16:00 and 24:00 UTC that is already tomorrow in Changzhi)."""
    from app import clock
    from app.services import calendar

    return calendar.local_date(clock.now())
