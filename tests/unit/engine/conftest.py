"""Shared fixtures for the engine adapter tests: compiled test diagrams and stateless cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine import Engine, compile_process

DATA = Path(__file__).resolve().parents[2] / "data"


def read_data(relpath: str) -> bytes:
    """Return the bytes of a file under tests/data."""
    return (DATA / relpath).read_bytes()


class StatelessCase:
    """A case kept only as its stored JSON: every step loads, acts and dumps again."""

    def __init__(self, engine: Engine, process, start_data: dict | None = None):
        self.engine = engine
        self.process = process
        self.state = engine.dump(engine.start(process, start_data or {}))

    def workflow(self):
        """Load a fresh workflow from the stored state."""
        return self.engine.load(self.process, self.state)

    def ready_ids(self) -> list[str]:
        """BPMN ids of the READY user tasks, sorted."""
        return sorted(t.bpmn_id for t in self.engine.ready_user_tasks(self.workflow()))

    def complete(self, bpmn_id: str, data: dict | None = None) -> None:
        """Load, complete the READY user task ``bpmn_id`` with ``data``, dump."""
        workflow = self.workflow()
        matches = [t for t in self.engine.ready_user_tasks(workflow) if t.bpmn_id == bpmn_id]
        assert len(matches) == 1, f"{bpmn_id} is not the only READY task of its kind: {self.ready_ids()}"
        self.engine.complete_user_task(workflow, matches[0].id, data or {})
        self.state = self.engine.dump(workflow)

    def data(self) -> dict:
        """The case data of the stored state."""
        return self.engine.case_data(self.workflow())

    def completed(self) -> bool:
        return self.engine.is_completed(self.workflow())

    def outcome(self) -> str | None:
        return self.engine.outcome(self.workflow())


@pytest.fixture
def engine() -> Engine:
    return Engine()


@pytest.fixture
def compile_data():
    """Compile one or more files under tests/data into a CompiledProcess."""

    def _compile(*relpaths: str):
        return compile_process({Path(p).name: read_data(p) for p in relpaths})

    return _compile


@pytest.fixture
def new_case(engine):
    """Start a StatelessCase for a compiled process."""

    def _start(process, start_data: dict | None = None) -> StatelessCase:
        return StatelessCase(engine, process, start_data)

    return _start
