"""Write the stored-state fixtures of older SpiffWorkflow serializer formats (see README.md).

Run from the repository root: ``PYTHONPATH=. python tests/data/migration/make_fixtures.py``.
Each fixture is a state of today's engine, downgraded by hand through the inverse of the
library's upgrade steps, so the test shows that ``load_state`` upgrades it back.
"""

from __future__ import annotations

import json
from pathlib import Path

from app.engine import Engine, compile_process
from app.engine.serializer import _SERIALIZER

HERE = Path(__file__).resolve().parent
MULTI_INSTANCE = ("ParallelMultiInstanceTask", "SequentialMultiInstanceTask", "StandardLoopTask")
STARTED, WAITING = 32, 8


def _compile(*names: str):
    return compile_process({name: (HERE / name).read_bytes() for name in names})


def _complete(engine, workflow, bpmn_id, data):
    task = next(t for t in engine.ready_user_tasks(workflow) if t.bpmn_id == bpmn_id)
    engine.complete_user_task(workflow, task.id, data)


def _old_task_format(dct: dict, workflow) -> None:
    """Before the delta optimisation every task stored its full data: undo the deltas."""
    parts = [(dct, workflow)] + [(dct["subprocesses"][str(k)], sp) for k, sp in workflow.subprocesses.items()]
    for part, wf in parts:
        part.pop("completed", None)
        for task_id, task in part["tasks"].items():
            live = wf.tasks[next(t for t in wf.tasks if str(t) == task_id)]
            task.pop("delta", None)
            task["data"] = _SERIALIZER.registry.convert(_SERIALIZER.registry.clean(live.data))


def _write(name: str, dct: dict, version: str) -> None:
    dct["serializer_version"] = version
    (HERE / name).write_text(json.dumps(dct, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def countersign_1_3(engine: Engine) -> None:
    """A countersign with one vote in: format 1.3, where a running multi-instance task was WAITING."""
    process = _compile("countersign.bpmn")
    workflow = engine.start(process, {"approvers": ["甲", "乙"]})
    _complete(engine, workflow, "sign", {"vote": "同意"})
    dct = json.loads(engine.dump(workflow))
    _old_task_format(dct, workflow)
    specs = {name: type(spec).__name__ for name, spec in process.spec.task_specs.items()}
    for task in dct["tasks"].values():
        # inverse of 1.3 -> 1.4 (version_1_4.update_mi_states); 1.4 -> 1.5 changes only specs
        if specs[task["task_spec"]] in MULTI_INSTANCE and task["state"] == STARTED:
            task["state"] = WAITING
    _write("countersign_1_3.json", dct, "1.3")


def call_activity_1_4(engine: Engine) -> None:
    """A case inside a call activity: format 1.4 (the library's own 1.4 upgrade fails on subprocesses)."""
    process = _compile("call_main.bpmn", "call_sub_v1.bpmn")
    workflow = engine.start(process, {"applicant": "王小明"})
    dct = json.loads(engine.dump(workflow))
    _old_task_format(dct, workflow)
    # inverse of 1.4 -> 1.5 (version_1_5.update_event_gateway_children): specs only, none stored here
    _write("call_activity_1_4.json", dct, "1.4")


def countersign_current(engine: Engine) -> None:
    """The same case in today's format (1.5), kept as is: after the next SpiffWorkflow upgrade it is old."""
    process = _compile("countersign.bpmn")
    workflow = engine.start(process, {"approvers": ["甲", "乙"]})
    _complete(engine, workflow, "sign", {"vote": "同意"})
    dct = json.loads(engine.dump(workflow))
    (HERE / f"countersign_{dct['serializer_version'].replace('.', '_')}.json").write_text(
        json.dumps(dct, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    engine = Engine()
    countersign_1_3(engine)
    call_activity_1_4(engine)
    countersign_current(engine)
