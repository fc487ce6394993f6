"""Read BPMN from either modeller (spiff-arena or Camunda/Flowable) into SpiffWorkflow specs.

Uploaded diagrams are untrusted: they are parsed with a hardened lxml parser (no DTDs,
no entity expansion, no network, no huge trees) before SpiffWorkflow sees them.
"""

from __future__ import annotations

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.task_parsers import ConditionalGatewayParser, GatewayParser
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import UserTaskParser
from SpiffWorkflow.spiff.specs.defaults import UserTask

from .gateways import MergingInclusiveGateway, MergingParallelGateway

# Attribute namespaces of the modellers whose assignment and form attributes we read.
ASSIGNMENT_NAMESPACES = (
    "http://camunda.org/schema/1.0/bpmn",
    "http://activiti.org/bpmn",
    "http://flowable.org/bpmn",
)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
MAX_XML_BYTES = 5 * 1024 * 1024


def hardened_xml_parser() -> etree.XMLParser:
    """Return an lxml parser that refuses DTD tricks, entity expansion and network access."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def parse_xml(content: bytes):
    """Parse untrusted XML bytes; raise ``etree.XMLSyntaxError`` or ``ValueError``."""
    if len(content) > MAX_XML_BYTES:
        raise ValueError(f"file is larger than {MAX_XML_BYTES // (1024 * 1024)} MB")
    root = etree.fromstring(content, parser=hardened_xml_parser())
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        # Entity definitions are never needed in BPMN; refusing them stops XXE and bombs.
        raise ValueError("DOCTYPE declarations are not allowed in BPMN files")
    return root


def foreign_attribute(node, name: str) -> str | None:
    """Return ``camunda:name`` (or activiti/flowable) from a node, if present."""
    for ns in ASSIGNMENT_NAMESPACES:
        value = node.get(f"{{{ns}}}{name}")
        if value is not None:
            return value.strip()
    return None


def foreign_properties(node) -> dict[str, str]:
    """Return ``<camunda:properties>`` name/value pairs of a node."""
    props = {}
    for ns in ASSIGNMENT_NAMESPACES:
        for prop in node.iterfind(f"./{{{BPMN_NS}}}extensionElements/{{{ns}}}properties/{{{ns}}}property"):
            if prop.get("name"):
                props[prop.get("name")] = prop.get("value", "")
    return props


class ApprovalUserTaskParser(UserTaskParser):
    """Spiff user task parser that also keeps Camunda assignment and form attributes.

    The result lands in ``task_spec.extensions``: ``candidateGroups`` (list of codes),
    ``assignee``, ``formKey`` and ``properties`` (spiff and camunda properties merged).
    """

    def parse_extensions(self, node=None):
        node = self.node if node is None else node
        extensions = super().parse_extensions(node)
        properties = dict(foreign_properties(node))
        properties.update(extensions.get("properties", {}))
        if properties:
            extensions["properties"] = properties
        groups = foreign_attribute(node, "candidateGroups")
        if groups:
            extensions["candidateGroups"] = [g.strip() for g in groups.split(",") if g.strip()]
        for name in ("assignee", "formKey"):
            value = foreign_attribute(node, name)
            if value:
                extensions[name] = value
        return extensions


class ApprovalParser(SpiffBpmnParser):
    """One parser for spiff-arena and Camunda diagrams, with delta-merging joins."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (ApprovalUserTaskParser, UserTask),
        full_tag("parallelGateway"): (GatewayParser, MergingParallelGateway),
        full_tag("inclusiveGateway"): (ConditionalGatewayParser, MergingInclusiveGateway),
    }

    def __init__(self, validate: bool = True):
        super().__init__(validator=VALIDATOR if validate else None)
