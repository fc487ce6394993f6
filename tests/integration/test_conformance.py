"""The BPMN conformance corpus: every file designers may bring, through our service layer.

The corpus lives beside the clone (``../shared/conformance``, or ``$CONFORMANCE_DIR``); its
MANIFEST says in prose what a correct system does with each file. ``tests/data/
conformance_expected.json`` turns each row into an explicit expectation:

- ``deploys_and_runs``: deploy through ``processes.deploy``, start a case with the row's
  ``init`` data (``run_data.json``), then complete every open task with its ``task`` data
  (firing timers when nobody has anything to do, or when they are due within a minute)
  until the case has ended;
- ``deploys``: deploys, not run (it waits for something from outside);
- ``refused``: deploy raises ``InvalidDiagram`` with each listed finding (its ``code`` and a
  ``contains`` text naming the construct, in the English messages).

``files`` lists the bundle members uploaded with a row (default: the row's file, or the
whole ``*_bundle/`` folder) and ``stub_forms`` the JSON forms a diagram references but the
corpus does not ship (uploaded as a schema that accepts any object); ``tasks`` gives data for
single tasks by BPMN id on top of ``task``; ``groups`` are created first (code = name = the lane or
candidate group the diagram names); the text of ``never_contains_file`` (the hostile files'
canary) must appear nowhere in what the system returns or stores.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale

from support import DATA

REPO = Path(__file__).resolve().parents[2]
EXPECTED_FILE = DATA / "conformance_expected.json"
EXPECTED = json.loads(EXPECTED_FILE.read_text(encoding="utf-8"))
ROWS = EXPECTED["rows"]
APPLICANT = {"name": "王小明", "id_number": "140402199001011234", "phone": "13812341234"}
SUPPORT = {"MANIFEST.tsv", "README.md", "run_data.json"}
MAX_STEPS = 400


def corpus_dir() -> Path:
    """The corpus folder, or a test failure that says where it was looked for."""
    configured = os.environ.get("CONFORMANCE_DIR")
    path = Path(configured) if configured else REPO.parent / "shared" / "conformance"
    if not (path / "MANIFEST.tsv").is_file():
        pytest.fail(f"BPMN conformance corpus not found at {path} (expected MANIFEST.tsv there): check out "
                    "shared/ beside the repository or set CONFORMANCE_DIR", pytrace=False)
    return path


def manifest(path: Path) -> dict[str, dict]:
    with (path / "MANIFEST.tsv").open(encoding="utf-8", newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


# -- generated inputs (the corpus describes them instead of shipping them) ----------------------------


def _linear_tasks(count: int) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn='
             '"http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="http://example.org">\n'
             '<bpmn:process id="huge_linear" isExecutable="true">\n<bpmn:startEvent id="start"/>\n']
    previous = "start"
    for i in range(count):
        parts.append(f'<bpmn:task id="t{i}"/><bpmn:sequenceFlow id="f{i}" sourceRef="{previous}" '
                     f'targetRef="t{i}"/>\n')
        previous = f"t{i}"
    parts.append(f'<bpmn:endEvent id="end"/><bpmn:sequenceFlow id="f_end" sourceRef="{previous}" '
                 'targetRef="end"/>\n</bpmn:process>\n</bpmn:definitions>\n')
    return "".join(parts).encode()


GENERATORS = {"linear_tasks": _linear_tasks}


def uploads_for(corpus: Path, rel: str, spec: dict) -> list[tuple[str, bytes]]:
    if "generate" in spec:
        return [(Path(rel).name, GENERATORS[spec["generate"]["kind"]](spec["generate"]["count"]))]
    path = corpus / rel
    if "files" in spec:
        names = spec["files"]
    elif path.parent.name.endswith("_bundle"):
        names = sorted(p.name for p in path.parent.iterdir() if p.is_file())
    else:
        names = [path.name]
    uploads = [(name, (path.parent / name).read_bytes()) for name in names]
    # Forms the corpus does not ship: a stand-in that accepts any object.
    uploads += [(name, b'{"type": "object"}') for name in spec.get("stub_forms", [])]
    return uploads


# -- the service-layer harness --------------------------------------------------------------------


class Clock:
    """SpiffWorkflow's timers read ``datetime.now``; the harness moves that clock forward."""

    def __init__(self, monkeypatch):
        from SpiffWorkflow.bpmn.specs.event_definitions import timer

        self.offset = timedelta(0)
        clock = self

        class ShiftedDatetime(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime.now(tz) + clock.offset

        monkeypatch.setattr(timer, "datetime", ShiftedDatetime)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance_to(self, when: datetime) -> None:
        self.offset = max(self.offset, when - datetime.now(UTC) + timedelta(seconds=1))


def _prepare_org(groups: list[str]):
    """A designer, and a clerk who belongs to every group the diagram routes to."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Department, Group, User

    dept = Department(code="conformance", name="一致性测试")
    db.session.add(dept)
    db.session.flush()
    for name in groups:
        if db.session.scalar(select(Group).where((Group.code == name) | (Group.name == name))) is None:
            db.session.add(Group(code=name[:64], name=name, department_id=dept.id))
    db.session.flush()
    worker = User(username="conformance", display_name="一致性测试员", roles=["clerk", "reviewer"], active=True)
    worker.set_password("x" * 12)
    worker.groups = list(db.session.scalars(select(Group)))
    db.session.add(worker)
    db.session.flush()
    designer = db.session.scalar(select(User).where(User.username == "designer"))
    return designer, worker


def _run_to_end(key: str, worker, init: dict, task_data: dict, per_task: dict, clock: Clock):
    from app.extensions import db
    from app.services import cases, runtime, tasks, timers

    case = cases.start_case(worker, key, APPLICANT, init)
    for _ in range(MAX_STEPS):
        # Every step reloads the version from its stored files, as another worker would.
        runtime.spec_cache().clear()
        db.session.refresh(case)
        if case.status != "active":
            return case
        due = case.next_timer_at
        open_tasks = cases.open_tasks(case)
        if due is not None and (not open_tasks or due <= clock.now() + timedelta(minutes=1)):
            clock.advance_to(due)
            timers.fire_case_timers(case.id, now=clock.now())
            continue
        if not open_tasks:
            pytest.fail(f"case of {key} is stuck: no open task and no timer (status {case.status})")
        task = open_tasks[0]
        tasks.claim(worker, task.id)
        tasks.complete(worker, task.id, {**task_data, **per_task.get(task.bpmn_id, {})})
    pytest.fail(f"case of {key} did not end within {MAX_STEPS} steps")


def _text_of(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


# -- tests ------------------------------------------------------------------------------------------


def test_every_manifest_row_has_an_expectation():
    """The expectations cover exactly the MANIFEST rows, and every file of the corpus has a row."""
    corpus = corpus_dir()
    rows = manifest(corpus)
    assert sorted(rows) == sorted(ROWS)
    on_disk = {str(p.relative_to(corpus)) for p in corpus.rglob("*") if p.is_file() and p.name not in SUPPORT}
    assert on_disk <= set(rows), on_disk - set(rows)
    missing = {rel for rel, spec in ROWS.items() if "generate" not in spec and rel not in on_disk}
    assert missing == set()
    for rel, spec in ROWS.items():
        assert spec["expect"] in ("deploys_and_runs", "deploys", "refused"), rel
        assert spec.get("note"), f"{rel}: say why in 'note'"
        if spec["expect"] == "refused":
            assert spec.get("findings"), f"{rel}: a refusal names its findings"


@pytest.mark.parametrize("rel", sorted(ROWS))
def test_conformance_row(rel, app_ctx, monkeypatch):
    """Each corpus file does what its expectation says, through the service layer."""
    from app.errors import InvalidDiagram
    from app.services import processes

    corpus = corpus_dir()
    spec = ROWS[rel]
    run_data = json.loads((corpus / "run_data.json").read_text(encoding="utf-8")).get(rel, {})
    clock = Clock(monkeypatch)
    uploads = uploads_for(corpus, rel, spec)
    designer, worker = _prepare_org(spec.get("groups", []))
    seen = []
    with force_locale("en"):
        if spec["expect"] == "refused":
            with pytest.raises(InvalidDiagram) as refused:
                processes.deploy(designer, uploads)
            findings = refused.value.errors
            seen.append(findings)
            for wanted in spec["findings"]:
                matches = [f for f in findings if f["code"] == wanted["code"]
                           and wanted.get("contains", "") in f["message"]]
                assert matches, f"{rel}: no finding {wanted} among {_text_of(findings)}"
                if "line" in wanted:
                    assert any(f["line"] == wanted["line"] for f in matches), _text_of(matches)
            with force_locale("zh_CN"):
                chinese = processes.validate(designer, uploads)
            assert [f["code"] for f in chinese.errors] == [f["code"] for f in findings]
            assert all(any("\u4e00" <= ch <= "\u9fff" for ch in f["message"]) for f in chinese.errors), \
                _text_of(chinese.errors)
        else:
            try:
                result = processes.deploy(designer, uploads)
            except InvalidDiagram as exc:
                pytest.fail(f"{rel} was refused: {_text_of(exc.errors)}")
            assert result.created
            seen.append(result.warnings)
            codes = {w["code"] for w in result.warnings}
            assert set(spec.get("warnings", [])) <= codes, _text_of(result.warnings)
            if spec["expect"] == "deploys_and_runs":
                init = {**run_data.get("init", {}), **spec.get("init", {})}
                task_data = {**run_data.get("task", {}), **spec.get("task", {})}
                case = _run_to_end(result.version.key, worker, init, task_data, spec.get("tasks", {}), clock)
                assert case.status in ("completed", "terminated"), case.status
                seen.append(case.data)
        for extra in spec.get("also_refused", []):
            with pytest.raises(InvalidDiagram) as refused:
                processes.deploy(designer, uploads_for(corpus, rel, extra))
            assert any(f["code"] == extra["code"] and extra["contains"] in f["message"]
                       for f in refused.value.errors), _text_of(refused.value.errors)
    if "never_contains_file" in spec:
        canary = (corpus / spec["never_contains_file"]).read_text(encoding="utf-8").strip()
        assert canary and canary not in _text_of(seen)
