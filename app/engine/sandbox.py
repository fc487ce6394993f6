"""Run diagram scripts and conditions as untrusted code.

SpiffWorkflow's default environment hands expressions to ``eval``/``exec`` with full
builtins (engine notes, pitfall 3). Everything a designer writes in a diagram runs here
instead: compiled with RestrictedPython (no imports, no underscore names, guarded
attribute and item access), cached by source text, and stopped after a time limit and a memory
budget. A huge allocation fails inside the script (the address-space limit is lowered to the
process's current size plus the budget while it runs, so ``'a' * 10**10`` or a doubling loop
raises MemoryError there); operations that compute for long inside one C call before they
allocate (``2 ** 10**10``, ``math.factorial(10**7)``) are refused by size before they start.
"""

from __future__ import annotations

import ast
import math
import operator
import os
import signal
import threading
import types
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
from RestrictedPython.transformer import RestrictingNodeTransformer

from .errors import ScriptError

try:
    import resource
except ImportError:  # not on this platform: no memory budget
    resource = None

DEFAULT_TIME_LIMIT = 1.0
DEFAULT_MEMORY_LIMIT_MB = 256
# The largest integer power or factorial a script may compute (in bits of the result).
MAX_INTEGER_BITS = 1_000_000


def _pow(base: Any, exponent: Any, modulo: Any = None) -> Any:
    """``**`` and ``pow()``, refused when an integer result would exceed MAX_INTEGER_BITS."""
    if (modulo is None and isinstance(base, int) and isinstance(exponent, int) and exponent > 0
            and abs(base) > 1 and exponent * abs(base).bit_length() > MAX_INTEGER_BITS):
        raise ScriptError(f"the power would exceed {MAX_INTEGER_BITS} bits")
    return pow(base, exponent) if modulo is None else pow(base, exponent, modulo)


def _bounded(function, name: str):
    def call(*args):
        n = max((a for a in args if isinstance(a, int)), default=0)
        if n > 20_000:  # 20000! has about 260,000 bits
            raise ScriptError(f"math.{name} of {n} is too large")
        return function(*args)
    return call


def _math() -> types.SimpleNamespace:
    """The math module's public functions and constants, the unbounded ones bounded."""
    names = {name: getattr(math, name) for name in dir(math) if not name.startswith("_")}
    for name in ("factorial", "comb", "perm"):
        names[name] = _bounded(names[name], name)
    return types.SimpleNamespace(**names)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's rules, plus ``a ** b`` through the size-checked ``_pow_``."""

    def visit_BinOp(self, node: ast.BinOp):
        node = self.node_contents_visit(node)
        if isinstance(node.op, ast.Pow):
            name = ast.copy_location(ast.Name(id="_pow_", ctx=ast.Load()), node)
            return ast.copy_location(ast.Call(func=name, args=[node.left, node.right], keywords=[]), node)
        return node

_INPLACE_OPS = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": _pow,
    "|=": operator.ior,
    "&=": operator.iand,
}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    """Apply an augmented assignment (``x += y``) that RestrictedPython rewrote."""
    try:
        return _INPLACE_OPS[op](x, y)
    except KeyError:
        raise ScriptError(f"operator {op} is not allowed") from None


def _paced(iterable):
    """The items of ``iterable`` one at a time through Python code.

    The time limit's signal is only handled between two bytecodes: a builtin that loops in C
    (``sum``, ``min``, ``sorted``, ``map`` …) over a plain list or string would run to its end
    however long that takes (``min(map(sorted, ['ab' * 500] * 10**6))``: minutes). Fed through
    this generator, it returns to Python at every item, where the signal stops it. (Not
    ``yield from``: CPython delegates that to the inner iterator without a check for signals.)"""
    for item in iterable:  # noqa: UP028
        yield item


def _one_or_many(function):
    """``min``/``max``: one iterable argument is paced; several arguments are already at hand."""
    def call(*args, **kwargs):
        if len(args) == 1:
            return function(_paced(args[0]), **kwargs)
        return function(*args, **kwargs)
    return call


def _builtins() -> dict[str, Any]:
    allowed = dict(safe_builtins)
    allowed.update(limited_builtins)
    python = __builtins__ if isinstance(__builtins__, dict) else vars(__builtins__)
    # The types stay themselves (scripts test isinstance(x, list)); what they are built from is
    # paced when it comes from map, filter, zip or enumerate below.
    for name in ("dict", "list", "set", "frozenset", "reversed"):
        allowed[name] = python[name]
    allowed["sum"] = lambda iterable, start=0: sum(_paced(iterable), start)
    allowed["any"] = lambda iterable: any(_paced(iterable))
    allowed["all"] = lambda iterable: all(_paced(iterable))
    allowed["min"] = _one_or_many(min)
    allowed["max"] = _one_or_many(max)
    allowed["sorted"] = lambda iterable, **kwargs: sorted(_paced(iterable), **kwargs)
    allowed["map"] = lambda function, *iterables: map(function, *(_paced(i) for i in iterables))
    allowed["filter"] = lambda function, iterable: filter(function, _paced(iterable))
    allowed["zip"] = lambda *iterables, strict=False: zip(*(_paced(i) for i in iterables), strict=strict)
    allowed["enumerate"] = lambda iterable, start=0: enumerate(_paced(iterable), start)
    allowed["pow"] = _pow
    allowed["math"] = _math()
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
    "_pow_": _pow,
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
    result = compile_restricted_eval(source, "<expression>", policy=_Policy)
    if result.errors:
        raise ScriptError("; ".join(result.errors))
    return result.code


@lru_cache(maxsize=4096)
def compile_script(source: str):
    """Compile a script task body under the sandbox, or raise ScriptError."""
    _check_tree(source, "exec")
    result = compile_restricted_exec(source, "<script>", policy=_Policy)
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


def _address_space() -> int | None:
    """This process's virtual memory size in bytes (Linux), or None."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def memory_limit(megabytes: float):
    """Let the block allocate at most about ``megabytes`` more; beyond, MemoryError is raised
    where it allocates and becomes a ScriptError here.

    The soft address-space limit (RLIMIT_AS) is lowered for the block and restored after it;
    like the time limit, only on the main thread (a sync worker runs one request at a time).
    """
    current = _address_space() if resource is not None else None
    if megabytes <= 0 or current is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = current + int(megabytes * 1024 * 1024)
    for ceiling in (soft, hard):
        if ceiling != resource.RLIM_INFINITY:
            limit = min(limit, ceiling)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    except MemoryError:
        raise ScriptError(f"script used more than {megabytes:g} MB of memory and was stopped") from None
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


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

    def __init__(self, time_limit_s: float = DEFAULT_TIME_LIMIT, functions: dict[str, Any] | None = None,
                 memory_limit_mb: float = DEFAULT_MEMORY_LIMIT_MB):
        self.time_limit_s = time_limit_s
        self.memory_limit_mb = memory_limit_mb
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
        return self._limited(eval, code, scope)

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        code = compile_script(script)
        scope = dict(self.functions)
        scope.update(context)
        if external_context:
            scope.update(external_context)
        scope.update(_GUARDS)
        _add_globals(scope)
        self._limited(exec, code, scope)
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

    def _limited(self, run, code, scope):
        """``run(code, scope)`` (``eval`` or ``exec`` of code RestrictedPython compiled) within the
        memory and time limits.

        The timer's exception is caught here too, not only in ``time_limit``: the alarm can go off
        after the script has ended, or failed (a MemoryError at the last moment), but before the
        timer is cancelled. It is then raised in the context managers' own code, outside the
        ``try`` of ``time_limit``, and would otherwise escape as a BaseException that nothing
        above handles (a sync worker would die of it)."""
        try:
            with memory_limit(self.memory_limit_mb), time_limit(self.time_limit_s):
                return run(code, scope)
        except _TimeLimitExceeded:
            raise ScriptError(f"script ran longer than {self.time_limit_s:g} s and was stopped") from None

    def call_service(self, context, **kwargs):
        raise ScriptError("service tasks are not supported by this engine")
