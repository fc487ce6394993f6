"""The engine adapter: the only package that imports SpiffWorkflow.

It knows nothing of Flask or the database. Services hand it file contents and stored
state strings and get back specs, ready tasks and new state strings.
"""

from .errors import DiagramError, EngineError, Finding, ScriptError, TaskNotReady, WorkflowRunError
from .runtime import Engine, ReadyTask, WaitingMessage, group_variable
from .specs import CompiledProcess, SpecCache, UserTaskInfo, compile_process

__all__ = [
    "CompiledProcess",
    "DiagramError",
    "Engine",
    "EngineError",
    "Finding",
    "ReadyTask",
    "ScriptError",
    "SpecCache",
    "TaskNotReady",
    "WaitingMessage",
    "UserTaskInfo",
    "WorkflowRunError",
    "compile_process",
    "group_variable",
]
