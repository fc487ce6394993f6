"""Give a hand-written BPMN file a diagram (BPMN DI) so bpmn-js can draw it.

    python scripts/bpmn_layout.py bpmn/business_startup.bpmn [more.bpmn …]

Bundles are written as XML (easier to review than coordinates); this lays them out left to
right, one horizontal band per lane, and replaces any existing <bpmndi:BPMNDiagram>. Layers
come from the longest path from the start events (back edges of correction loops ignored),
boundary events sit on their task's lower edge. Designers can move things in the modeler
afterwards; the layout is only a readable start.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
NODE_TAGS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "userTask",
             "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
             "task", "callActivity", "subProcess", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
             "eventBasedGateway", "complexGateway"}
SIZES = {"event": (36, 36), "gateway": (50, 50), "activity": (110, 80)}
LAYER_WIDTH = 170
ROW_HEIGHT = 120
LANE_HEADER = 30
LEFT = 160
TOP = 60


def _b(tag: str) -> str:
    return f"{{{BPMN}}}{tag}"


def _kind(tag: str) -> str:
    if tag.endswith("Event"):
        return "event"
    if tag.endswith("Gateway"):
        return "gateway"
    return "activity"


def _layers(nodes: list[str], flows: list[tuple[str, str, str]], starts: list[str]) -> dict[str, int]:
    """Longest-path layers from the starts; edges that close a loop (DFS back edges) are ignored."""
    outgoing = defaultdict(list)
    for _fid, src, dst in flows:
        outgoing[src].append(dst)
    back, state = set(), {}

    def visit(node):
        state[node] = 1
        for nxt in outgoing[node]:
            if state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                visit(nxt)
        state[node] = 2

    for start in starts + nodes:
        if start not in state:
            visit(start)
    layer = {n: 0 for n in nodes}
    forward = [(s, d) for _f, s, d in flows if (s, d) not in back]
    for _ in range(len(nodes)):
        changed = False
        for src, dst in forward:
            if layer.get(dst, 0) < layer.get(src, 0) + 1:
                layer[dst] = layer[src] + 1
                changed = True
        if not changed:
            break
    return layer


def layout(path: Path) -> None:
    tree = etree.parse(str(path), etree.XMLParser(remove_blank_text=False, resolve_entities=False, no_network=True))
    root = tree.getroot()
    wanted = {"bpmndi": BPMNDI, "dc": DC, "di": DI}
    if not set(wanted.values()) <= set(root.nsmap.values()):
        # Declare the DI namespaces on the root (lxml cannot add them in place).
        fresh = etree.Element(root.tag, nsmap={**root.nsmap, **wanted}, attrib=dict(root.attrib))
        fresh.text = root.text
        fresh.extend(list(root))
        tree._setroot(fresh)
        root = fresh
    process = root.find(_b("process"))
    collaboration = root.find(_b("collaboration"))
    participant = collaboration.find(_b("participant")) if collaboration is not None else None

    nodes, kinds, boundary = [], {}, {}
    for el in process:
        if not isinstance(el.tag, str):
            continue
        local = etree.QName(el).localname
        if local in NODE_TAGS:
            nodes.append(el.get("id"))
            kinds[el.get("id")] = _kind(local)
        elif local == "boundaryEvent":
            boundary[el.get("id")] = el.get("attachedToRef")
            kinds[el.get("id")] = "event"
    flows = [(f.get("id"), f.get("sourceRef"), f.get("targetRef")) for f in process.iter(_b("sequenceFlow"))]
    starts = [n for n in nodes if process.find(f"{_b('startEvent')}[@id='{n}']") is not None]
    # A boundary event's successors come after its task.
    graph_flows = [(fid, boundary.get(s, s), d) for fid, s, d in flows]
    layer = _layers(nodes, graph_flows, starts)

    lanes = [(lane.get("id"), [r.text.strip() for r in lane.iter(_b("flowNodeRef")) if r.text])
             for lane in process.iter(_b("lane"))]
    lane_of = {}
    for lane_id, refs in lanes:
        for ref in refs:
            lane_of[ref] = lane_id
    order = [lane_id for lane_id, _refs in lanes] or [None]
    rows = defaultdict(int)  # (lane, layer) -> next free row
    row_of = {}
    for node in sorted(nodes, key=lambda n: (layer[n], nodes.index(n))):
        key = (lane_of.get(node, order[0]), layer[node])
        row_of[node] = rows[key]
        rows[key] += 1
    lane_rows = {lane: max([r for (ln, _l), r in rows.items() if ln == lane] or [1]) for lane in order}
    lane_top, y = {}, TOP
    for lane in order:
        lane_top[lane] = y
        y += lane_rows[lane] * ROW_HEIGHT + 20
    width = LEFT + (max(layer.values(), default=0) + 1) * LAYER_WIDTH + 40
    height = y - TOP

    bounds = {}
    for node in nodes:
        w, h = SIZES[kinds[node]]
        cx = LEFT + 60 + layer[node] * LAYER_WIDTH
        cy = lane_top[lane_of.get(node, order[0])] + 10 + row_of[node] * ROW_HEIGHT + ROW_HEIGHT // 2
        bounds[node] = (cx - w // 2, cy - h // 2, w, h)
    for event, host in boundary.items():
        hx, hy, hw, hh = bounds[host]
        siblings = [e for e, h in boundary.items() if h == host]
        bounds[event] = (hx + hw - 30 - 40 * siblings.index(event), hy + hh - 18, 36, 36)

    for old in root.findall(f"{{{BPMNDI}}}BPMNDiagram"):
        root.remove(old)
    diagram = etree.SubElement(root, f"{{{BPMNDI}}}BPMNDiagram", id=f"BPMNDiagram_{process.get('id')}")
    plane_ref = collaboration.get("id") if collaboration is not None else process.get("id")
    plane = etree.SubElement(diagram, f"{{{BPMNDI}}}BPMNPlane", id=f"BPMNPlane_{process.get('id')}",
                             bpmnElement=plane_ref)

    def shape(element_id, x, y, w, h, **extra):
        el = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=f"{element_id}_di", bpmnElement=element_id,
                              **extra)
        etree.SubElement(el, f"{{{DC}}}Bounds", x=str(x), y=str(y), width=str(w), height=str(h))

    if participant is not None:
        shape(participant.get("id"), LEFT - 60, TOP, width - LEFT + 60, height, isHorizontal="true")
    for lane in order:
        if lane is not None:
            shape(lane, LEFT - 30, lane_top[lane], width - LEFT + 30, lane_rows[lane] * ROW_HEIGHT + 20,
                  isHorizontal="true")
    for node in nodes + list(boundary):
        x, y, w, h = bounds[node]
        extra = {"isMarkerVisible": "true"} if process.find(f"{_b('exclusiveGateway')}[@id='{node}']") is not None \
            else {}
        shape(node, x, y, w, h, **extra)
    for fid, src, dst in flows:
        sx, sy, sw, sh = bounds[src]
        tx, ty, tw, th = bounds[dst]
        edge = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", id=f"{fid}_di", bpmnElement=fid)
        if src in boundary:
            points = [(sx + sw // 2, sy + sh), (sx + sw // 2, ty + th // 2), (tx, ty + th // 2)]
        elif tx > sx:  # forward: right side to left side, with one vertical step if needed
            start, end = (sx + sw, sy + sh // 2), (tx, ty + th // 2)
            mid = (start[0] + end[0]) // 2
            points = [start, end] if start[1] == end[1] else [start, (mid, start[1]), (mid, end[1]), end]
        else:  # a loop back: leave from the bottom, run under the row, enter from the bottom
            low = max(sy + sh, ty + th) + 25
            points = [(sx + sw // 2, sy + sh), (sx + sw // 2, low), (tx + tw // 2, low), (tx + tw // 2, ty + th)]
        for px, py in points:
            etree.SubElement(edge, f"{{{DI}}}waypoint", x=str(px), y=str(py))
    etree.indent(diagram, space="  ", level=1)
    diagram.tail = "\n"
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        layout(Path(name))
        print(f"laid out {name}")
