"""Database models, one aggregate per module."""

from .assisted import AssistedApplication
from .attachment import Attachment
from .audit import AuditEvent, SecurityEvent
from .calendar import CalendarOverride
from .case import Case, CaseExtension, CaseNotice, CasePause, CaseSubmission, MessageWait, ReceiptCounter
from .catalogue import CatalogueEntry
from .draft import PendingDeployment, ProcessDraft
from .hotline import KnowledgeArticle, WorkOrder, WorkOrderExtension
from .kpi import KpiCaseDay, KpiGroupCaseDay, KpiTaskDay
from .org import ROLES, ApiToken, Department, Group, LoginThrottle, User, group_memberships
from .oversight import EvaluationSample, OversightLink, Review
from .process import DeploymentEvent, ProcessDefinition, ProcessFile, ProcessVersion
from .saved_filter import SavedFilter
from .task import HumanTask, InboxEntry, TaskCandidate, TaskCopy, TaskNote
from .worker import WorkerHeartbeat

__all__ = [
    "AssistedApplication",
    "ROLES",
    "ApiToken",
    "Attachment",
    "AuditEvent",
    "CalendarOverride",
    "CatalogueEntry",
    "Case",
    "CaseExtension",
    "CaseNotice",
    "CasePause",
    "CaseSubmission",
    "Department",
    "DeploymentEvent",
    "EvaluationSample",
    "Group",
    "HumanTask",
    "InboxEntry",
    "KnowledgeArticle",
    "KpiCaseDay",
    "KpiGroupCaseDay",
    "KpiTaskDay",
    "LoginThrottle",
    "MessageWait",
    "OversightLink",
    "PendingDeployment",
    "ProcessDefinition",
    "ProcessDraft",
    "ProcessFile",
    "ProcessVersion",
    "ReceiptCounter",
    "Review",
    "SavedFilter",
    "SecurityEvent",
    "TaskCandidate",
    "TaskCopy",
    "WorkOrder",
    "WorkOrderExtension",
    "TaskNote",
    "User",
    "WorkerHeartbeat",
    "group_memberships",
]
