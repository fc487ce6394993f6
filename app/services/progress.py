"""Where a case stands: elements passed and tasks waiting, for the diagram view."""

from __future__ import annotations

from ..models import Case, ProcessVersion
from .cases import load_workflow, open_tasks
from .runtime import engine


def progress(case: Case) -> dict[str, list[str]]:
    """Return ``{"current": [bpmn ids waiting for people], "done": [bpmn ids passed]}``."""
    current = sorted({t.bpmn_id for t in open_tasks(case)})
    done = [i for i in engine().completed_element_ids(load_workflow(case)) if i not in current]
    return {"current": current, "done": done}


def diagram_xml(version: ProcessVersion) -> bytes:
    """Return the BPMN file of the version that holds its entry process."""
    marker = f'id="{version.key}"'.encode()
    bpmn_files = version.file_map("bpmn")
    for content in bpmn_files.values():
        if marker in content:
            return content
    return next(iter(bpmn_files.values()), b"")
