"""12345 hotline work orders (工单) and the knowledge base (知识库) agents answer from.

A work order runs as a case of the ``hotline_work_order`` diagram; this row holds what the hotline
needs outside the case: the caller (kept out of the case data, masked in lists, hidden from handling
units when confidential), the caller system's order id (idempotent intake), the SLA and the facts
the lists and KPIs read (status, handling unit, times, satisfaction), refreshed on every step.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .case import Case
from .org import User
from .types import UTCDateTime, utcnow

REQUEST_TYPES = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
URGENCIES = ("normal", "urgent")
ORDER_STATES = ("registered", "dispatch_pending", "dispatched", "return_requested", "in_progress", "replied",
                "callback_pending", "closed", "direct_answered", "invalid", "final_answer", "merged")


class WorkOrder(db.Model):
    __tablename__ = "work_orders"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_work_orders_source_external_id"),
        Index("ix_work_orders_status_created_at", "status", "created_at"),
        Index("ix_work_orders_created_at", "created_at"),
        Index("ix_work_orders_unit_status", "handling_unit", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    # Who sent it: "agent" (typed in by a hotline agent) or the username of the calling system's
    # token; ``external_id`` is that system's own order id (one order per id).
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(64))
    request_type: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(100))
    urgency: Mapped[str] = mapped_column(String(8), default="normal")
    caller_name: Mapped[str] = mapped_column(String(100))
    caller_phone: Mapped[str] = mapped_column(String(32))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    address: Mapped[str] = mapped_column(String(300), default="")
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="registered")
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The SLA rule applied (hotline/sla.toml): natural or working-day clock, response and closing due.
    sla_rule: Mapped[str] = mapped_column(String(100), default="")
    clock: Mapped[str] = mapped_column(String(8), default="working")
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Facts refreshed from the case on every step.
    direct: Mapped[bool] = mapped_column(Boolean, default=False)
    handling_unit: Mapped[str | None] = mapped_column(String(100))
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned: Mapped[bool] = mapped_column(Boolean, default=False)
    reopen_count: Mapped[int] = mapped_column(default=0)
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    # KPI facts: closed within 24 natural hours of acceptance (set when it closes); the same caller
    # raised the same category within HOTLINE_REPEAT_DAYS before (set at intake).
    closed_within_24h: Mapped[bool | None] = mapped_column(Boolean)
    repeat_request: Mapped[bool] = mapped_column(Boolean, default=False)
    # 重复件合并: this order repeated ``merged_into``; an open order counts the duplicates merged into it.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    merged_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # Extensions the dispatcher granted (at most three).
    extension_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # The last time-limit warning the timer worker announced (none/yellow/red), each once.
    warning_level: Mapped[str] = mapped_column(String(8), default="none", server_default="none")

    case: Mapped[Case] = relationship()
    created_by: Mapped[User] = relationship()


class KnowledgeArticle(db.Model):
    """A standard answer (GB/T 44191-2024 知识库) agents search when answering directly."""

    __tablename__ = "knowledge_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(100), index=True)
    keywords: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uses: Mapped[int] = mapped_column(default=0)


class WorkOrderExtension(db.Model):
    """延期申请: the handling unit asks for more days; the dispatcher decides."""

    __tablename__ = "work_order_extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    days: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
