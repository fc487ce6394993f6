"""Run diagram scripts and conditions as untrusted code.

SpiffWorkflow's default environment hands expressions to ``eval``/``exec`` with full
builtins (engine notes, pitfall 3). Everything a designer writes in a diagram runs here
instead: compiled with RestrictedPython (no imports, no underscore names, guarded
attribute and item access), cached by source text, and stopped after a time limit.
"""

from __future__ import annotations

import ast
import math
import operator
import signal
import threading
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)
from RestrictedPython.Limits import limited_builtins
from RestrictedPython.PrintCollector import PrintCollector

from .errors import ScriptError

DEFAULT_TIME_LIMIT = 1.0

_INPLACE_OPS = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "|=": operator.ior,
    "&=": operator.iand,
}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    """Apply an augmented assignment (``x += y``) that RestrictedPython rewrote."""
    try:
        return _INPLACE_OPS[op](x, y)
    except KeyError:
        raise ScriptError(f"operator {op} is not allowed") from None


def _builtins() -> dict[str, Any]:
    allowed = dict(safe_builtins)
    allowed.update(limited_builtins)
    for name in ("dict", "list", "set", "frozenset", "enumerate", "all", "any", "sum", "min", "max",
                 "sorted", "reversed", "map", "filter"):
        allowed[name] = __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    allowed["math"] = math
    return allowed


_BUILTINS = _builtins()

# Names a script may use besides its task data. Task data may shadow builtins (``id``,
# ``max`` …), as module globals do in Python; the guards all start with an underscore.
_GUARDS = {
    "__builtins__": _BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": _inplacevar,
    "_print_": PrintCollector,
}


class _TimeLimitExceeded(BaseException):
    """Raised into a running script by the timer. Scripts cannot catch it: ``try`` is refused
    at compile time, and SpiffWorkflow only catches ``Exception``."""


def _check_tree(source: str, mode: str) -> None:
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise ScriptError(f"syntax error: {exc.msg}", line=exc.lineno) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            raise ScriptError("import is not allowed in diagram scripts", line=node.lineno)
        if isinstance(node, ast.Try | ast.TryStar):
            # A handler could swallow the time limit; a failing script should fail the step.
            raise ScriptError("try/except is not allowed in diagram scripts", line=node.lineno)


@lru_cache(maxsize=4096)
def compile_expression(source: str):
    """Compile a condition or expression under the sandbox, or raise ScriptError."""
    source = source.strip()
    _check_tree(source, "eval")
    result = compile_restricted_eval(source, "<expression>")
    if result.errors:
        raise ScriptError("; ".join(result.errors))
    return result.code


@lru_cache(maxsize=4096)
def compile_script(source: str):
    """Compile a script task body under the sandbox, or raise ScriptError."""
    _check_tree(source, "exec")
    result = compile_restricted_exec(source, "<script>")
    if result.errors:
        raise ScriptError("; ".join(result.errors))
    return result.code


@contextmanager
def time_limit(seconds: float):
    """Raise ScriptError when the block runs longer than ``seconds``.

    Uses SIGALRM, which only the main thread can receive; gunicorn's sync workers and
    the CLI run requests there. Elsewhere (threaded test servers) no limit is applied.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(signum, frame):
        raise _TimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _TimeLimitExceeded:
        raise ScriptError(f"script ran longer than {seconds:g} s and was stopped") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _add_globals(scope: dict) -> None:
    """``globals()`` as SpiffWorkflow scripts use it (``globals().get("votes", [])``): a snapshot
    of the data names the script sees, never the guards or builtins."""
    if "globals" not in scope:
        scope["globals"] = lambda: {k: v for k, v in scope.items()
                                    if not k.startswith("_") and not callable(v)}


class SandboxEnvironment:
    """A SpiffWorkflow script environment that evaluates through RestrictedPython.

    It implements the ``evaluate``/``execute`` protocol of
    ``BasePythonScriptEngineEnvironment`` without importing it, so this module stays
    usable for deploy-time checks.
    """

    def __init__(self, time_limit_s: float = DEFAULT_TIME_LIMIT, functions: dict[str, Any] | None = None):
        self.time_limit_s = time_limit_s
        self.globals: dict[str, Any] = {}
        # Host functions diagrams may call (e.g. ``working_days(n)`` in a timer); plain names.
        self.functions: dict[str, Any] = dict(functions or {})

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        code = compile_expression(expression)
        scope = dict(self.functions)
        scope.update(context)
        if external_context:
            scope.update(external_context)
        scope.update(_GUARDS)
        _add_globals(scope)
        with time_limit(self.time_limit_s):
            return eval(code, scope)  # noqa: S307 - code was compiled by RestrictedPython

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        code = compile_script(script)
        scope = dict(self.functions)
        scope.update(context)
        if external_context:
            scope.update(external_context)
        scope.update(_GUARDS)
        _add_globals(scope)
        with time_limit(self.time_limit_s):
            exec(code, scope)  # noqa: S102 - code was compiled by RestrictedPython
        # Copy back what the script left as plain data; drop helpers and guards.
        result = {
            key: value
            for key, value in scope.items()
            if not key.startswith("_")
            and not callable(value)
            and (external_context is None or key not in external_context)
        }
        for key in list(context):
            if key not in result:
                del context[key]
        context.update(result)
        return True

    def call_service(self, context, **kwargs):
        raise ScriptError("service tasks are not supported by this engine")
