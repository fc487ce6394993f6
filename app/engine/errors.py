"""Errors raised by the engine adapter. They carry no HTTP meaning."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem in a deployed file: where it is and what a designer should fix.

    ``code`` names the rule (a stable machine id) and ``params`` the values a message about
    it needs (element names, the refused expression ...), so the service layer can word it
    in the reader's language; ``message`` is the English wording for everyone else (CLI,
    logs). ``severity`` is ``"error"`` (deployment refused) or ``"warning"`` (reported only).
    """

    message: str
    file: str | None = None
    line: int | None = None
    element: str | None = None
    severity: str = ERROR
    code: str | None = None
    params: Mapping = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self):
        # Frozen and hashable in spirit: nobody may change the parameters afterwards.
        object.__setattr__(self, "params", MappingProxyType(dict(self.params or {})))

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def as_dict(self) -> dict:
        """Return ``{"file", "line", "element", "message", "severity", "code"}`` for the API."""
        return {"file": self.file, "line": self.line, "element": self.element, "message": self.message,
                "severity": self.severity, "code": self.code}


class EngineError(Exception):
    """Base class for engine adapter errors."""


class DiagramError(EngineError):
    """A diagram (or the forms it references) cannot be deployed."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        super().__init__("; ".join(f.message for f in findings if f.is_error) or
                         "; ".join(f.message for f in findings))


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
