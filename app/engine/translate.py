"""Translate diagrams from other modelling tools into what our SpiffWorkflow adapter runs.

Applied to the parsed XML tree before SpiffWorkflow sees it, and only where the meaning is
unambiguous:

- JUEL conditions and expressions (``${approved}``, ``${!approved}``, ``${x == 'a'}``,
  ``${a && b}``, ``${x eq 'a'}`` …) become Python expressions for the sandbox;
- literal ISO 8601 timers (``PT2H``, ``P1D``, ``2026-12-01T10:00:00+08:00``, ``R3/PT1H``)
  become quoted Python strings, because SpiffWorkflow evaluates timer text as Python;
- ``camunda:decisionRef`` on a business rule task becomes SpiffWorkflow's
  ``calledDecisionId``; a standard ``potentialOwner`` naming groups becomes candidate groups;
- sequence flows without an id (allowed by the schema) get one, because SpiffWorkflow
  silently drops them.

Everything that cannot be translated faithfully (method calls and beans in expressions,
engine variables like ``execution`` or ``nrOfCompletedInstances``, listeners, Java
delegates, scripts in other languages, cron timers …) becomes a finding that names the
construct. Nothing here raises on bad input: a designer gets findings, never a crash.

Translation runs again whenever a stored version is compiled, so it must stay
deterministic; the stored files are the designer's originals.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .errors import ERROR, WARNING, Finding
from .parser import ASSIGNMENT_NAMESPACES, BPMN_NS, SPIFF_NS
from .parser import foreign_attribute as foreign

CAMUNDA_NS = ASSIGNMENT_NAMESPACES[0]
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

PYTHON_LANGUAGES = frozenset({"", "python", "python3", "py", "text/x-python", "application/x-python"})

# Variables a Camunda/Activiti/Flowable engine provides and SpiffWorkflow does not.
ENGINE_VARIABLES = frozenset({
    "execution", "task", "nrOfInstances", "nrOfActiveInstances", "nrOfCompletedInstances", "loopCounter",
    "authenticatedUserId", "processInstanceId", "processDefinitionId", "variables", "initiator",
    "currentUser", "connection",
})

_PREFIXES = {"camunda": CAMUNDA_NS, "activiti": ASSIGNMENT_NAMESPACES[1], "flowable": ASSIGNMENT_NAMESPACES[2]}


def _b(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def _vendor(qname: str) -> str:
    """``{camunda-ns}class`` -> ``camunda:class`` (for messages)."""
    qn = etree.QName(qname)
    for prefix, ns in _PREFIXES.items():
        if qn.namespace == ns:
            return f"{prefix}:{qn.localname}"
    return qn.localname


# -- JUEL ---------------------------------------------------------------------------------------


# What a JuelError names: kind -> English wording (the service words it in other languages).
JUEL_CONSTRUCTS = {
    "engine_variable": "engine variable {}",
    "method_call": "method call {}",
    "property_access": "property access {} (bean or map?)",
    "operator": "the {} operator",
    "template": "text mixed with {} (a template, not one expression)",
    "name": "the name {}",
    "syntax": "syntax ({})",
}


class JuelError(ValueError):
    """A JUEL expression uses something that has no unambiguous Python equivalent."""

    def __init__(self, kind: str, text: str):
        self.kind = kind
        self.text = text
        self.construct = JUEL_CONSTRUCTS[kind].format(text)
        super().__init__(self.construct)


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!+\-*/%()\[\].?:,])
""", re.VERBOSE)

_WORD_OPS = {"and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=",
             "ge": ">=", "div": "/", "mod": "%"}
_PY_BINARY = {"&&": "and", "||": "or", "==": "==", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">=",
              "+": "+", "-": "-", "*": "*", "/": "/", "%": "%"}
_LEVELS = [("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%")]


@dataclass
class _Tok:
    kind: str
    value: str


def _tokens(text: str) -> list[_Tok]:
    result, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise JuelError("syntax", f"unexpected character {text[pos]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        value = m.group()
        if kind == "name" and value in _WORD_OPS:
            kind, value = "op", _WORD_OPS[value]
        result.append(_Tok(kind, value))
    return result


class _JuelParser:
    """Recursive descent over JUEL's grammar; emits Python source with explicit grouping."""

    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None or (value is not None and tok.value != value):
            raise JuelError("syntax", f"expected {value!r}" if value else "unexpected end")
        self.i += 1
        return tok

    def parse(self) -> str:
        if not self.toks:
            raise JuelError("syntax", "empty expression")
        code, _ = self.ternary()
        if self.peek() is not None:
            raise JuelError("syntax", f"unexpected {self.peek().value!r}")
        return code

    # Each level returns (code, is_compound): compound results get parentheses as operands.
    def ternary(self):
        cond, compound = self.binary(0)
        tok = self.peek()
        if tok is not None and tok.kind == "op" and tok.value == "?":
            self.take("?")
            yes, _ = self.ternary()
            self.take(":")
            no, _ = self.ternary()
            return f"{yes} if {self._wrap(cond, compound)} else {no}", True
        return cond, compound

    def binary(self, level: int):
        if level == len(_LEVELS):
            return self.unary()
        left, compound = self.binary(level + 1)
        while True:
            tok = self.peek()
            if tok is None or tok.kind != "op" or tok.value not in _LEVELS[level]:
                return left, compound
            self.take()
            right, right_compound = self.binary(level + 1)
            left = f"{self._wrap(left, compound)} {_PY_BINARY[tok.value]} {self._wrap(right, right_compound)}"
            compound = True

    def unary(self):
        tok = self.peek()
        if tok is not None and tok.kind == "op" and tok.value in ("!", "-"):
            self.take()
            operand, compound = self.unary()
            if tok.value == "!":
                return f"not {self._wrap(operand, compound)}", True
            return f"-{self._wrap(operand, compound)}", True
        if tok is not None and tok.kind == "name" and tok.value in ("empty", "instanceof"):
            raise JuelError("operator", tok.value)
        return self.postfix()

    def postfix(self):
        code, compound = self.primary()
        while True:
            tok = self.peek()
            if tok is None or tok.kind != "op" or tok.value not in (".", "[", "("):
                return code, compound
            if tok.value == "(":
                raise JuelError("method_call", f"{code}()")
            if tok.value == ".":
                self.take(".")
                member = self.take()
                nxt = self.peek()
                if nxt is not None and nxt.value == "(":
                    raise JuelError("method_call", f"{code}.{member.value}()")
                raise JuelError("property_access", f"{code}.{member.value}")
            self.take("[")
            index, _ = self.ternary()
            self.take("]")
            code, compound = f"{self._wrap(code, compound)}[{index}]", False

    def primary(self):
        tok = self.take()
        if tok.kind == "number":
            return tok.value, False
        if tok.kind == "string":
            return repr(_unescape(tok.value)), False
        if tok.kind == "op" and tok.value == "(":
            code, _ = self.ternary()
            self.take(")")
            return f"({code})", False
        if tok.kind == "name":
            literal = {"true": "True", "false": "False", "null": "None"}.get(tok.value)
            if literal:
                return literal, False
            if tok.value in ENGINE_VARIABLES:
                raise JuelError("engine_variable", tok.value)
            if "$" in tok.value or keyword.iskeyword(tok.value) or tok.value in ("True", "False", "None"):
                raise JuelError("name", tok.value)
            return tok.value, False
        raise JuelError("syntax", f"unexpected {tok.value!r}")

    @staticmethod
    def _wrap(code: str, compound: bool) -> str:
        return f"({code})" if compound else code


def _unescape(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


_JUEL_WHOLE = re.compile(r"^\s*([$#])\{(.*)\}\s*$", re.DOTALL)


def is_juel(text: str | None) -> bool:
    """Whether ``text`` contains a JUEL ``${…}`` or ``#{…}`` expression."""
    return bool(text) and ("${" in text or "#{" in text)


def juel_to_python(text: str) -> str:
    """Translate one whole JUEL expression ``${…}``/``#{…}`` to Python, or raise JuelError."""
    m = _JUEL_WHOLE.match(text)
    if not m or "${" in m.group(2) or "#{" in m.group(2):
        raise JuelError("template", "${…}")
    return _JuelParser(m.group(2)).parse()


# -- timers --------------------------------------------------------------------------------------

_DURATION = re.compile(r"^P(?=\d|T\d)(\d+([.,]\d+)?Y)?(\d+([.,]\d+)?M)?(\d+([.,]\d+)?W)?(\d+([.,]\d+)?D)?"
                       r"(T(?=\d)(\d+([.,]\d+)?H)?(\d+([.,]\d+)?M)?(\d+([.,]\d+)?S)?)?$", re.IGNORECASE)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}([.,]\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$",
                       re.IGNORECASE)
_CYCLE = re.compile(r"^R\d*/[^/\s]+(/[^/\s]+)?$", re.IGNORECASE)
_SIMPLE_ASSIGNEE = re.compile(r"^(\$\{\s*[A-Za-z][A-Za-z0-9_]*\s*\}|[A-Za-z0-9_.@-]+)$")
_WORKING_DAYS = re.compile(r"^working_days\s*\(.*\)$", re.DOTALL)
_CRON = re.compile(r"^\S+(\s+\S+){4,6}$")


def parse_timer_value(kind: str, value: str) -> None:
    """Parse an evaluated timer value as SpiffWorkflow will; raise ValueError if it cannot.

    ``kind`` is ``timeDate``, ``timeDuration`` or ``timeCycle``.
    """
    if not isinstance(value, str):
        raise ValueError(f"a timer must be an ISO 8601 text, not {type(value).__name__}")
    try:
        if kind == "timeDuration":
            TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(value))
        elif kind == "timeCycle":
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            TimerEventDefinition.parse_time_or_duration(value)
    except Exception as exc:  # the library raises bare Exception/ValueError/AttributeError
        raise ValueError(f"{value!r} is not a valid ISO 8601 {_TIMER_WORDS[kind]}") from exc


_TIMER_WORDS = {"timeDate": "date/time", "timeDuration": "duration", "timeCycle": "repeating interval"}


def _looks_iso(kind: str, text: str) -> bool:
    if kind == "timeCycle":
        return bool(_CYCLE.match(text))
    if kind == "timeDuration":
        return bool(_DURATION.match(text))
    return bool(_DATETIME.match(text) or _DURATION.match(text))


# -- the document pass ----------------------------------------------------------------------------


class _Pass:
    def __init__(self, root, filename: str | None):
        self.root = root
        self.filename = filename
        self.findings: list[Finding] = []

    def add(self, code: str, message: str, node, severity: str = ERROR, element: str | None = None, **params):
        if _documentation_only(node):
            return  # a process marked isExecutable="false" never runs: nothing to report
        owner = node
        while element is None and owner is not None:
            if isinstance(owner.tag, str) and owner.get("id") and etree.QName(owner).localname not in _INNER:
                element = owner.get("id")
            owner = owner.getparent()
        params.setdefault("element", element or "?")
        self.findings.append(Finding(message, self.filename, node.sourceline, element, severity, code, params))

    # -- expressions --
    def expression(self, node, language: str | None = None) -> None:
        """Translate the JUEL text of ``node`` in place (or report why it cannot be)."""
        text = node.text or ""
        where = etree.QName(node).localname
        element = self._owner_id(node)
        if language and language.strip().lower() not in PYTHON_LANGUAGES:
            self.add("unsupported_language", f"{where} of {element} is written in {language}; only Python is "
                     "supported", node, where=where, element=element, language=language)
            return
        if not is_juel(text):
            return
        try:
            node.text = juel_to_python(text)
        except JuelError as exc:
            self.add("unsupported_expression",
                     f"{where} of {element}: {text.strip()!r} cannot be translated to Python "
                     f"({exc.construct} is not supported)", node, where=where, element=element,
                     expression=text.strip(), construct=exc.construct, construct_kind=exc.kind,
                     construct_text=exc.text)

    def _owner_id(self, node) -> str:
        owner = node
        while owner is not None:
            if isinstance(owner.tag, str) and owner.get("id") and etree.QName(owner).localname not in _INNER:
                return owner.get("id")
            owner = owner.getparent()
        return "?"

    def timer(self, node, kind: str) -> None:
        text = (node.text or "").strip()
        element = self._owner_id(node)
        if not text:
            self.add("timer_missing", f"the timer {element} has no time: set a duration, date or cycle", node,
                     element=element)
            return
        if is_juel(text):
            self.expression(node)
            return
        if kind == "timeDuration" and _WORKING_DAYS.match(text):
            # ``working_days(n)`` yields the due date/time, so SpiffWorkflow must read it as a date.
            node.tag = etree.QName(etree.QName(node).namespace, "timeDate").text
            return
        if _looks_iso(kind, text):
            try:
                parse_timer_value(kind, text)
            except ValueError as exc:
                self.add("timer_invalid", f"{kind} of {element}: {text!r} does not parse: {exc}", node,
                         where=kind, element=element, expression=text, detail=str(exc))
                return
            node.text = repr(text)
            return
        if _CRON.match(text) and ("*" in text or "?" in text):
            self.add("unsupported_timer", f"{kind} of {element}: {text!r} is a cron expression; use ISO 8601 "
                     "(e.g. R/PT1H)", node, where=kind, element=element, expression=text)

    def run(self) -> list[Finding]:
        self.flow_ids()
        for flow in self.root.iter(_b("sequenceFlow")):
            cond = flow.find(_b("conditionExpression"))
            if cond is not None:
                self.expression(cond, cond.get("language"))
        for tag in ("loopCardinality", "completionCondition", "loopCondition", "condition"):
            for node in self.root.iter(_b(tag)):
                self.expression(node, node.get("language"))
        for definition in self.root.iter(_b("timerEventDefinition")):
            parts = [c for c in definition if isinstance(c.tag, str)
                     and etree.QName(c).localname in ("timeDate", "timeDuration", "timeCycle")]
            if not parts:
                element = self._owner_id(definition)
                self.add("timer_missing", f"the timer {element} has no time: set a duration, date or cycle",
                         definition, element=element)
            for part in parts:
                self.timer(part, etree.QName(part).localname)
        self.scripts()
        self.decisions()
        self.assignments()
        self.vendor_extensions()
        return self.findings

    def flow_ids(self) -> None:
        taken = {el.get("id") for el in self.root.iter() if isinstance(el.tag, str) and el.get("id")}
        for flow in self.root.iter(_b("sequenceFlow")):
            if flow.get("id"):
                continue
            base = f"flow_{flow.get('sourceRef') or 'x'}_{flow.get('targetRef') or 'x'}"
            flow_id, n = base, 1
            while flow_id in taken:
                n += 1
                flow_id = f"{base}_{n}"
            taken.add(flow_id)
            flow.set("id", flow_id)
            self.add("flow_id_added", f"a sequence flow from {flow.get('sourceRef')} to {flow.get('targetRef')} "
                     f"has no id; it was given the id {flow_id}", flow, WARNING, flow_id,
                     source=flow.get("sourceRef"), target=flow.get("targetRef"), flow=flow_id)

    def scripts(self) -> None:
        for task in self.root.iter(_b("scriptTask")):
            fmt = task.get("scriptFormat")
            if fmt and fmt.strip().lower() not in PYTHON_LANGUAGES:
                self.add("unsupported_language", f"scriptTask of {task.get('id')} is written in {fmt}; only "
                         "Python is supported", task, where="scriptTask", element=task.get("id"), language=fmt)
            resource = foreign(task, "resource")
            if resource:
                self.add("unsupported_extension", f"camunda:resource on {_label(task)} is not supported",
                         task, construct="camunda:resource", owner=_label(task))

    def decisions(self) -> None:
        for task in self.root.iter(_b("businessRuleTask")):
            ref = foreign(task, "decisionRef")
            if not ref:
                continue
            if is_juel(ref):
                self.add("unsupported_expression", f"camunda:decisionRef of {task.get('id')}: {ref!r} cannot be "
                         "translated to Python (an expression is not supported)", task, where="camunda:decisionRef",
                         element=task.get("id"), expression=ref, construct="${…}", construct_kind="template",
                         construct_text="${…}")
                continue
            ext = task.find(_b("extensionElements"))
            if ext is None:
                ext = etree.SubElement(task, _b("extensionElements"))
                task.insert(0, ext)
            if ext.find(f"{{{SPIFF_NS}}}calledDecisionId") is None:
                etree.SubElement(ext, f"{{{SPIFF_NS}}}calledDecisionId").text = ref

    def assignments(self) -> None:
        for node in self.root.iter(_b("userTask"), _b("startEvent")):
            form_ref = foreign(node, "formRef")
            if form_ref:
                self.add("form_key_ignored", f"camunda:formRef {form_ref!r} is not a .json form of the upload; the "
                         "task shows no form until a JSON Schema form is attached", node, WARNING, form=form_ref)
        for task in self.root.iter(_b("userTask"), _b("manualTask"), _b("task")):
            name = " ".join((task.get("name") or task.get("id") or "").split())
            for attr in ("assignee", "candidateUsers"):
                value = foreign(task, attr)
                if attr == "assignee" and value and _SIMPLE_ASSIGNEE.match(value.strip()):
                    continue  # a username, or ${var} from the task's data: routed to that person
                if value:
                    self.add("assignee_ignored", f"{attr} {value!r} of task {name} is not used: tasks go to the "
                             "groups of their lane or candidate groups (or to the applicant)", task, WARNING,
                             attribute=attr, value=value, task=name)
            groups = foreign(task, "candidateGroups")
            # Codes and ``${var}`` entries (the group chosen at run time) are routed; other expressions are not.
            simple = groups and all(_SIMPLE_ASSIGNEE.match(g.strip()) for g in groups.split(",") if g.strip())
            if groups and is_juel(groups) and not simple:
                self.add("unsupported_expression", f"candidateGroups of {task.get('id')}: {groups!r} cannot be "
                         "translated (an expression is not supported)", task, where="candidateGroups",
                         element=task.get("id"), expression=groups, construct="${…}", construct_kind="template",
                         construct_text="${…}")
            owners = []
            for owner in task.iter(_b("potentialOwner"), _b("humanPerformer")):
                expr = owner.find(f".//{_b('formalExpression')}")
                text = (expr.text or "").strip() if expr is not None else ""
                if etree.QName(owner).localname == "humanPerformer" or is_juel(text) or "user(" in text:
                    self.add("assignee_ignored", f"performer {text!r} of task {name} is not used: tasks go to "
                             "the groups of their lane or candidate groups (or to the applicant)", owner,
                             WARNING, task.get("id"), attribute=etree.QName(owner).localname, value=text,
                             task=name)
                    continue
                for part in text.split(","):
                    part = part.strip()
                    m = re.fullmatch(r"group\((.+)\)", part)
                    part = m.group(1).strip() if m else part
                    if part:
                        owners.append(part)
            if owners and not groups:
                task.set(f"{{{CAMUNDA_NS}}}candidateGroups", ",".join(owners))

    def vendor_extensions(self) -> None:
        for node in self.root.iter():
            if not isinstance(node.tag, str):
                continue
            qn = etree.QName(node)
            if qn.namespace in ASSIGNMENT_NAMESPACES:
                self._vendor_element(node, qn.localname)
            elif qn.namespace == BPMN_NS:
                for attr in ("class", "delegateExpression", "expression", "type", "topic"):
                    value = foreign(node, attr)
                    if value is not None and qn.localname in ("serviceTask", "sendTask", "businessRuleTask",
                                                               "scriptTask", "userTask", "task", "manualTask",
                                                               "receiveTask", "intermediateThrowEvent",
                                                               "endEvent", "messageEventDefinition"):
                        self.add("unsupported_implementation",
                                 f"{_label(node)} uses "
                                 f"{_vendor_attr(node, attr)}={value!r}: Java delegates, expressions, external "
                                 "tasks and connectors cannot run here", node,
                                 construct=_vendor_attr(node, attr), value=value, kind=qn.localname,
                                 name=" ".join((node.get("name") or node.get("id") or "").split()))
                        break
                for attr in ("collection", "elementVariable"):
                    value = foreign(node, attr)
                    if value is not None and qn.localname == "multiInstanceLoopCharacteristics":
                        owner = _label(node.getparent())
                        self.add("unsupported_extension", f"{_vendor_attr(node, attr)} on {owner} is not "
                                 "supported: use loopDataInputRef/inputDataItem", node,
                                 construct=_vendor_attr(node, attr), owner=owner)
                        break
                if qn.localname == "startEvent":
                    value = foreign(node, "initiator")
                    if value:
                        self.add("initiator_ignored", f"{_vendor_attr(node, 'initiator')}={value!r} is not "
                                 "used: the case records who started it, no variable is set", node, WARNING,
                                 construct=_vendor_attr(node, "initiator"), value=value)

    def _vendor_element(self, node, local: str) -> None:
        construct = _vendor(node.tag)
        parent = node.getparent()
        owner = parent.getparent() if parent is not None and etree.QName(parent).localname == "extensionElements" \
            else parent
        if local in ("executionListener", "taskListener"):
            self.add("unsupported_listener", f"{construct} on {_label(owner)} is not supported: listeners "
                     "(Java classes, beans or scripts) cannot run here; model the step as a task", node,
                     construct=construct, owner=_label(owner))
        elif local in ("inputOutput", "in", "out", "field", "connector", "script", "errorEventDefinition",
                       "failedJobRetryTimeCycle") and parent is not None \
                and etree.QName(parent).localname == "extensionElements":
            self.add("unsupported_extension", f"{construct} on {_label(owner)} is not supported", node,
                     construct=construct, owner=_label(owner))
        elif local in ("formData", "formProperty") and parent is not None \
                and etree.QName(parent).localname == "extensionElements":
            self.add("form_fields_ignored", f"{construct} on {_label(owner)} is not imported: attach a JSON "
                     "Schema form instead", node, WARNING, construct=construct, owner=_label(owner))


def _documentation_only(node) -> bool:
    """Whether ``node`` is inside a process marked ``isExecutable="false"``."""
    for ancestor in node.iterancestors(_b("process")):
        return ancestor.get("isExecutable") == "false"
    return node.tag == _b("process") and node.get("isExecutable") == "false"


_INNER = frozenset({
    "conditionExpression", "timeDuration", "timeDate", "timeCycle", "timerEventDefinition",
    "multiInstanceLoopCharacteristics", "loopCardinality", "completionCondition", "condition",
    "conditionalEventDefinition", "standardLoopCharacteristics", "loopCondition",
})


def _label(node) -> str:
    if node is None:
        return "?"
    name = " ".join((node.get("name") or node.get("id") or "").split())
    return f"{etree.QName(node).localname} {name}".strip()


def _vendor_attr(node, attr: str) -> str:
    for prefix, ns in _PREFIXES.items():
        if node.get(f"{{{ns}}}{attr}") is not None:
            return f"{prefix}:{attr}"
    return attr


def translate_document(root, filename: str | None = None) -> list[Finding]:
    """Translate one parsed BPMN document in place; return findings about what could not be."""
    if root.tag != _b("definitions"):
        return []
    return _Pass(root, filename).run()


def is_python_constant(source: str):
    """Return ``(True, value)`` when ``source`` is a Python literal, else ``(False, None)``."""
    try:
        return True, ast.literal_eval(source.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None
