"""Errors raised by the engine adapter. They carry no HTTP meaning."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Finding:
    """One problem in a deployed file: where it is and what a designer should fix."""

    message: str
    file: str | None = None
    line: int | None = None
    element: str | None = None

    def as_dict(self) -> dict:
        """Return the finding as the API's ``{"file", "line", "element", "message"}``."""
        return asdict(self)


class EngineError(Exception):
    """Base class for engine adapter errors."""


class DiagramError(EngineError):
    """A diagram (or the forms it references) cannot be deployed."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        super().__init__("; ".join(f.message for f in findings))


class ScriptError(EngineError):
    """A script or expression was refused by the sandbox or failed while running."""

    def __init__(self, message: str, line: int | None = None, element: str | None = None):
        self.line = line
        self.element = element
        super().__init__(message)


class WorkflowRunError(EngineError):
    """Running the workflow failed (a script, a condition or a timer); nothing is saved."""

    def __init__(self, message: str, element: str | None = None, line: int | None = None):
        self.element = element
        self.line = line
        super().__init__(message)


class TaskNotReady(EngineError):
    """The engine task is not a READY user task (completed, cancelled or not reached)."""
