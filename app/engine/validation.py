"""The validation report: every finding about an upload, errors and warnings, in one pass.

``validate_process(files)`` runs ``specs.build_process`` (XML, schema, translation,
references, the SpiffWorkflow spec, sandbox compilation) and then the deploy-time lint
on the translated XML, scope by scope (process, sub-process):

- exclusive/inclusive gateways that split must say where each flow goes (a condition, or
  the gateway's default flow);
- constant timer expressions must parse as ISO 8601 the way SpiffWorkflow parses them;
- shapes that deadlock: a boundary event whose path and its activity's normal path meet
  at a parallel join (one of them never arrives), a parallel gateway entered both from
  outside and from a loop (a parallel join waits for every incoming flow);
- elements from which no end can be reached ("never ends"), loops without any wait state
  (they spin without pause), and elements no start reaches (warning);
- elements this engine cannot run (complex gateways, compensation, links, data stores,
  service tasks, processes that only start on a message or signal).

Deploy refuses on any error; warnings are reported. No Flask here: findings carry a
``code`` and ``params`` for the service layer to word.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from .errors import WARNING, Finding
from .parser import BPMN_NS, SPIFF_NS
from .specs import Build, CompiledProcess, build_process, finding
from .translate import is_juel, is_python_constant, parse_timer_value


def _b(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


FLOW_NODES = frozenset({
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
})
SCOPES = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})
WAIT_STATES = frozenset({
    "task", "userTask", "manualTask", "receiveTask", "intermediateCatchEvent", "eventBasedGateway",
    "callActivity", "subProcess", "transaction", "adHocSubProcess",
})
CONDITIONAL_GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway"})
UNSUPPORTED_DEFINITIONS = {
    "compensateEventDefinition": "compensation event",
    "linkEventDefinition": "link event",
}
# ValidationException findings of the spec build that a lint error on the same element explains better.
_SUPERSEDED = frozenset({"unsupported_element", "gateway_flow_without_condition", "unsupported_service_task",
                         "engine", "timer_invalid", "unsupported_data_store", "implicit_split",
                         "multi_instance_invalid"})


@dataclass
class Report:
    """The validation report of one upload."""

    process: CompiledProcess | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def key(self) -> str | None:
        return self.process.key if self.process else None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_error]

    @property
    def valid(self) -> bool:
        return not self.errors and self.process is not None


def validate_process(files: Mapping[str, bytes]) -> Report:
    """Build and lint an upload; return the compiled process (if it could be built) and findings."""
    build = build_process(files)
    lint: list[Finding] = []
    for filename, root in build.roots.items():
        if etree.QName(root).namespace == BPMN_NS:
            lint.extend(_Lint(filename, root, build).run())
    ours = [f for f in build.findings + lint if f.is_error and f.params.get("source") != "spiff"]
    linted = {f.element for f in ours if f.element}
    lint_codes = {f.code for f in ours}
    kept = [f for f in build.findings
            if not (f.params.get("source") == "spiff" and f.code in _SUPERSEDED | {"unsupported_data_store"}
                    and (f.element in linted or (f.element is None and f.code in lint_codes)))]
    findings = _dedupe(kept + lint)
    findings.sort(key=lambda f: (not f.is_error, f.file or "", f.line or 0))
    return Report(build.process, findings)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, result = set(), []
    for f in findings:
        key = (f.code, f.file, f.element, f.message)
        if key not in seen:
            seen.add(key)
            result.append(f)
    return result


@dataclass
class _Scope:
    node: object
    nodes: dict = field(default_factory=dict)          # id -> element
    flows: dict = field(default_factory=dict)          # flow id -> (source, target, element)
    outgoing: dict = field(default_factory=dict)       # node id -> [flow ids]
    incoming: dict = field(default_factory=dict)       # node id -> [flow ids]
    boundaries: dict = field(default_factory=dict)     # activity id -> [boundary ids]

    def succ(self, node_id: str) -> list[str]:
        result = [self.flows[f][1] for f in self.outgoing.get(node_id, ()) if self.flows[f][1] in self.nodes]
        return result + self.boundaries.get(node_id, [])


class _Lint:
    def __init__(self, filename: str, root, build: Build):
        self.filename = filename
        self.root = root
        self.build = build
        self.findings: list[Finding] = []
        self.flagged = {f.element for f in build.findings if f.is_error and f.element}

    def add(self, code: str, message: str, node, element_id: str | None = None, severity: str = "error",
            **params):
        element_id = element_id if element_id is not None else (node.get("id") if node is not None else None)
        self.findings.append(finding(code, message, self.filename, node.sourceline if node is not None else None,
                                     element_id, severity, **params))

    def run(self) -> list[Finding]:
        self.thrown = self._thrown()
        called = {c.get("calledElement") for r in self.build.roots.values() for c in r.iter(_b("callActivity"))}
        for process in self.root.iter(_b("process")):
            if process.get("isExecutable") == "false":
                continue
            self.unsupported(process)
            if process.get("id") not in called:
                self.start_events(process)
            for scope_el in [process, *(el for el in process.iter() if _local(el) in SCOPES and el is not process)]:
                scope = self.scope(scope_el)
                self.gateways(scope)
                self.timers(scope)
                self.implicit_splits(scope)
                if _local(scope_el) != "adHocSubProcess":
                    self.reachability(scope)
                    self.loops(scope)
                self.parallel_entries(scope)
                self.boundary_joins(scope)
        self.messages()
        self.diagram_references()
        return self.findings

    # -- the graph of one scope --
    def scope(self, scope_el) -> _Scope:
        scope = _Scope(scope_el)
        for el in scope_el:
            local = _local(el)
            if local in FLOW_NODES and el.get("id"):
                scope.nodes[el.get("id")] = el
            elif local == "sequenceFlow" and el.get("id"):
                scope.flows[el.get("id")] = (el.get("sourceRef"), el.get("targetRef"), el)
        for flow_id, (source, target, _el) in scope.flows.items():
            scope.outgoing.setdefault(source, []).append(flow_id)
            scope.incoming.setdefault(target, []).append(flow_id)
        for node_id, el in scope.nodes.items():
            if _local(el) == "boundaryEvent" and el.get("attachedToRef") in scope.nodes:
                scope.boundaries.setdefault(el.get("attachedToRef"), []).append(node_id)
        return scope

    def _name(self, el) -> str:
        return " ".join((el.get("name") or el.get("id") or "?").split())

    # -- rules --
    def unsupported(self, process) -> None:
        for el in process.iter():
            local = _local(el)
            owner = el.getparent()
            if local == "complexGateway":
                self.add("unsupported_element", f"complex gateway {self._name(el)} is not supported: use "
                         "exclusive, inclusive or parallel gateways", el, construct="complexGateway",
                         name=self._name(el))
            elif local in UNSUPPORTED_DEFINITIONS and owner is not None:
                self.add("unsupported_element", f"{UNSUPPORTED_DEFINITIONS[local]} {self._name(owner)} is not "
                         "supported by the engine", owner, construct=local, name=self._name(owner))
            elif local == "dataStoreReference":
                self.add("unsupported_data_store", f"data store {self._name(el)} is not supported: keep case "
                         "data in forms and scripts", el, construct="dataStoreReference", name=self._name(el))
            elif local == "serviceTask" and el.get("id") not in self.flagged:
                if not any(f.element == el.get("id") and f.code == "unsupported_implementation"
                           for f in self.build.findings):
                    self.add("unsupported_service_task", f"service task {self._name(el)} cannot run here: this "
                             "system does not call external services (use a script task or a user task)", el,
                             construct="serviceTask", name=self._name(el))
            elif local == "adHocSubProcess" and el.get("ordering") == "Sequential":
                self.add("unsupported_element", f"sequential ad-hoc sub-process {self._name(el)} is not "
                         "supported", el, construct="adHocSubProcess ordering=Sequential", name=self._name(el))

    def start_events(self, process) -> None:
        starts = process.findall(_b("startEvent"))

        def runnable(start) -> bool:
            definitions = [c for c in start if _local(c).endswith("EventDefinition")]
            return (not definitions or start.find(_b("timerEventDefinition")) is not None
                    or any((d.get("messageRef") or d.get("signalRef")) in self.thrown for d in definitions))

        runnable = [s for s in starts if runnable(s)]
        if starts and not runnable:
            kinds = sorted({_local(c).replace("EventDefinition", "") for s in starts for c in s
                            if _local(c).endswith("EventDefinition")})
            self.add("unsupported_start", f"process {self._name(process)} only starts on a "
                     f"{'/'.join(kinds)} event; cases here are started by a clerk: add a plain start event",
                     starts[0], process.get("id"), kinds="/".join(kinds), process=self._name(process))

    def gateways(self, scope: _Scope) -> None:
        for node_id, el in scope.nodes.items():
            if _local(el) not in CONDITIONAL_GATEWAYS:
                continue
            out = scope.outgoing.get(node_id, [])
            if len(out) < 2:
                continue
            default = el.get("default")
            for flow_id in out:
                flow = scope.flows[flow_id][2]
                cond = flow.find(_b("conditionExpression"))
                has_condition = cond is not None and (cond.text or "").strip()
                if flow_id != default and not has_condition:
                    self.add("gateway_flow_without_condition",
                             f"sequence flow {flow_id} leaves {_local(el)} {self._name(el)} without a condition "
                             "and is not its default flow: add a condition or make it the default",
                             flow, flow_id, flow=flow_id, gateway=self._name(el))

    def timers(self, scope: _Scope) -> None:
        for el in scope.nodes.values():
            for definition in el.iterfind(_b("timerEventDefinition")):
                for part in definition:
                    kind = _local(part)
                    if kind not in ("timeDate", "timeDuration", "timeCycle"):
                        continue
                    text = (part.text or "").strip()
                    if not text or is_juel(text):
                        continue  # reported by the translation
                    constant, value = is_python_constant(text)
                    if not constant:
                        continue  # computed from case data when the timer starts
                    try:
                        parse_timer_value(kind, value)
                    except ValueError as exc:
                        self.add("timer_invalid", f"{kind} of {el.get('id')}: {text} does not parse: {exc}", part,
                                 el.get("id"), where=kind, element=el.get("id"), expression=text, detail=str(exc))

    def implicit_splits(self, scope: _Scope) -> None:
        for node_id, el in scope.nodes.items():
            local = _local(el)
            if local.endswith("Gateway") or local == "startEvent" or len(scope.outgoing.get(node_id, [])) < 2:
                continue
            self.add("implicit_split", f"{local} {self._name(el)} has several outgoing sequence flows; add a "
                     "parallel or exclusive gateway after it", el, name=self._name(el), kind=local)

    def reachability(self, scope: _Scope) -> None:
        nodes = scope.nodes
        event_subprocess = {i for i, el in nodes.items() if el.get("triggeredByEvent") == "true"}
        compensation = {i for i, el in nodes.items() if el.get("isForCompensation") == "true"
                        or (_local(el) == "boundaryEvent" and el.get("attachedToRef") not in nodes)}
        starts = [i for i, el in nodes.items() if _local(el) == "startEvent"]
        if not starts:
            starts = [i for i, el in nodes.items() if not scope.incoming.get(i) and _local(el) != "boundaryEvent"
                      and i not in event_subprocess | compensation]
        links = self._links(scope)
        reached = _bfs(starts, lambda n: scope.succ(n) + links.get(n, []))
        for node_id, el in nodes.items():
            if node_id not in reached and node_id not in event_subprocess | compensation:
                self.add("unreachable", f"{_local(el)} {self._name(el)} can never be reached from a start event",
                         el, severity=WARNING, name=self._name(el), kind=_local(el))
        # Which reached elements can still get to an end?
        terminal = [i for i in nodes if not scope.succ(i) and not links.get(i)]
        preds: dict[str, list[str]] = {}
        for n in nodes:
            for s in scope.succ(n) + links.get(n, []):
                preds.setdefault(s, []).append(n)
        ending = _bfs(terminal, lambda n: preds.get(n, []))
        trapped = {n for n in reached if n not in ending}
        # Report each loop nothing escapes (a trapped component whose successors stay inside it).
        for component in _strongly_connected(trapped, lambda n: [s for s in scope.succ(n) + links.get(n, [])
                                                                 if s in trapped]):
            inside = all(s in component for n in component for s in scope.succ(n) + links.get(n, []))
            if not inside:
                continue
            first = min(component, key=lambda n: (nodes[n].sourceline or 0, n))
            names = ", ".join(sorted(self._name(nodes[n]) for n in component))
            self.add("never_ends", f"{names} never end: no path from there reaches an end event (a loop without "
                     "a way out)", nodes[first], names=names)

    def _links(self, scope: _Scope) -> dict[str, list[str]]:
        catches: dict[str, list[str]] = {}
        throws: dict[str, str] = {}
        for node_id, el in scope.nodes.items():
            link = el.find(_b("linkEventDefinition"))
            if link is None:
                continue
            name = link.get("name") or el.get("name")
            if _local(el) == "intermediateCatchEvent":
                catches.setdefault(name, []).append(node_id)
            elif _local(el) == "intermediateThrowEvent":
                throws[node_id] = name
        return {t: catches.get(name, []) for t, name in throws.items()}

    def loops(self, scope: _Scope) -> None:
        for component in _strongly_connected(scope.nodes, scope.succ):
            if len(component) == 1:
                (only,) = component
                if only not in scope.succ(only):
                    continue
            if any(_local(scope.nodes[n]) in WAIT_STATES for n in component):
                continue
            names = ", ".join(sorted(self._name(scope.nodes[n]) for n in component))
            first = min(component, key=lambda n: scope.nodes[n].sourceline or 0)
            self.add("loop_without_wait", f"the loop through {names} has no user task, timer or other wait: it "
                     "would run without pause and may never stop", scope.nodes[first], names=names)

    def parallel_entries(self, scope: _Scope) -> None:
        for node_id, el in scope.nodes.items():
            incoming = scope.incoming.get(node_id, [])
            if _local(el) != "parallelGateway" or len(incoming) < 2:
                continue
            downstream = _bfs([s for s in scope.succ(node_id)], scope.succ)
            loop_back = [f for f in incoming if scope.flows[f][0] in downstream]
            if loop_back and len(loop_back) < len(incoming):
                self.add("parallel_loop_entry", f"parallel gateway {self._name(el)} is entered both from before "
                         f"and from a loop (sequence flow {', '.join(loop_back)}): it would wait for both forever; "
                         "the loop must re-enter through an exclusive gateway", el, name=self._name(el),
                         flows=", ".join(loop_back))

    def boundary_joins(self, scope: _Scope) -> None:
        joins = {i: set(scope.incoming.get(i, [])) for i, el in scope.nodes.items()
                 if _local(el) == "parallelGateway" and len(scope.incoming.get(i, [])) >= 2}
        if not joins:
            return
        for activity, boundaries in scope.boundaries.items():
            normal = _flows_from(scope, scope.outgoing.get(activity, []))
            for boundary_id in boundaries:
                event = scope.nodes[boundary_id]
                via_event = _flows_from(scope, scope.outgoing.get(boundary_id, []))
                only_normal, only_event = normal - via_event, via_event - normal
                interrupting = event.get("cancelActivity", "true") != "false"
                for join_id, incoming in joins.items():
                    stuck_when_fired = interrupting and incoming & only_normal and not incoming <= only_normal
                    stuck_when_not = incoming & only_event and not incoming <= only_event
                    if not (stuck_when_fired or stuck_when_not):
                        continue
                    join, act = self._name(scope.nodes[join_id]), self._name(scope.nodes[activity])
                    if stuck_when_fired:
                        self.add("boundary_deadlock", f"parallel join {join} would wait forever: when boundary "
                                 f"event {self._name(event)} interrupts {act}, the join still waits for {act}'s "
                                 "path; merge the paths with an exclusive gateway before the join, or end the "
                                 "boundary path", event, name=self._name(event), join=join, activity=act)
                    else:
                        self.add("boundary_join_waits", f"parallel join {join} would wait forever: when boundary "
                                 f"event {self._name(event)} does not fire, the join still waits for its path; "
                                 "merge the paths with an exclusive gateway before the join", event,
                                 name=self._name(event), join=join, activity=act)
                    break

    def _thrown(self) -> set:
        """Messages and signals something in the upload sends (ids, and names of signals)."""
        thrown = set()
        for root in self.build.roots.values():
            for el in root.iter(_b("messageEventDefinition"), _b("signalEventDefinition")):
                owner = el.getparent()
                if _local(owner) in ("intermediateThrowEvent", "endEvent"):
                    thrown.add(el.get("messageRef") or el.get("signalRef"))
            for el in root.iter(_b("sendTask")):
                thrown.add(el.get("messageRef"))
        thrown.discard(None)
        return thrown

    def messages(self) -> None:
        thrown = self.thrown
        for process in self.root.iter(_b("process")):
            if process.get("isExecutable") == "false":
                continue
            for el in process.iter(_b("intermediateCatchEvent"), _b("receiveTask"), _b("boundaryEvent")):
                definitions = ([el] if _local(el) == "receiveTask" else
                               el.findall(_b("messageEventDefinition")) + el.findall(_b("signalEventDefinition")))
                external = any(prop.get("name") == "senderGroups" and (prop.get("value") or "").strip()
                               for prop in el.iter(f"{{{SPIFF_NS}}}property"))
                for definition in definitions:
                    ref = definition.get("messageRef") or definition.get("signalRef")
                    if ref in thrown or (external and _local(definition) != "signalEventDefinition"):
                        continue  # sent inside the upload, or delivered from outside by senderGroups
                    kind = "signal" if _local(definition) == "signalEventDefinition" else "message"
                    self.add("waits_for_message", f"{_local(el)} {self._name(el)} waits for {kind} {ref or '?'}, "
                             "which nothing in this upload sends; this system cannot deliver it from outside",
                             el, severity=WARNING, name=self._name(el), kind=kind, ref=ref or "?")

    def diagram_references(self) -> None:
        ids = {el.get("id") for el in self.root.iter() if isinstance(el.tag, str) and el.get("id")}
        missing = []
        for el in self.root.iter():
            ref = el.get("bpmnElement") if isinstance(el.tag, str) else None
            if ref and ref not in ids:
                missing.append((ref, el))
        if missing:
            refs = ", ".join(r for r, _ in missing[:5]) + (" …" if len(missing) > 5 else "")
            self.add("dangling_di", f"the diagram layout draws elements that do not exist ({refs}); they are "
                     "ignored", missing[0][1], missing[0][0], severity=WARNING, refs=refs)


def _bfs(starts, succ) -> set:
    seen, todo = set(starts), list(starts)
    while todo:
        node = todo.pop()
        for nxt in succ(node):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _flows_from(scope: _Scope, first_flows) -> set[str]:
    """Every sequence flow a token can take after ``first_flows`` (inclusive)."""
    flows = set(first_flows)
    todo = [scope.flows[f][1] for f in first_flows]
    seen = set()
    while todo:
        node = todo.pop()
        if node in seen or node not in scope.nodes:
            continue
        seen.add(node)
        for f in scope.outgoing.get(node, []):
            flows.add(f)
            todo.append(scope.flows[f][1])
        for b in scope.boundaries.get(node, []):
            todo.append(b)
    return flows


def _strongly_connected(nodes, succ) -> list[set]:
    """Tarjan's algorithm, iterative (diagrams may be long)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(succ(root)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in nodes:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(succ(nxt))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                result.append(component)
    return result
