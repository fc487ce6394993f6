"""Words for states and events shown in pages (one place for every page)."""

from flask_babel import lazy_gettext as _l

STATUS_LABELS = {
    "active": _l("In progress"),
    "completed": _l("Completed"),
    "terminated": _l("Terminated"),
    "rejected": _l("Not accepted"),
    "withdrawn": _l("Withdrawn by the applicant"),
}
STATE_LABELS = {
    "open": _l("Waiting to be claimed"),
    "claimed": _l("Claimed"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
}
EVENT_LABELS = {
    "case_started": _l("Case started"),
    "task_claimed": _l("Task claimed"),
    "task_unclaimed": _l("Task released"),
    "task_completed": _l("Task completed"),
    "task_cancelled": _l("Task cancelled"),
    "task_priority_changed": _l("Priority changed"),
    "timer_fired": _l("Timer fired"),
    "timer_failed": _l("Timer failed"),
    "case_completed": _l("Case completed"),
    "case_terminated": _l("Case terminated"),
    "attachment_added": _l("Attachment added"),
    "draft_saved": _l("Draft saved"),
    "case_migrated": _l("Moved to a new version"),
    "clock_paused": _l("Clock stopped"),
    "clock_resumed": _l("Clock restarted"),
    "due_dates_changed": _l("Due dates recomputed"),
    "extension_requested": _l("Extension requested"),
    "extension_approved": _l("Extension approved"),
    "extension_rejected": _l("Extension rejected"),
    "correction_notice_issued": _l("Correction notice issued"),
    "correction_received": _l("Materials received"),
    "case_rejected": _l("Application not accepted"),
    "case_withdrawn": _l("Application withdrawn"),
    "deadline_warning": _l("Time-limit warning"),
    "task_deadline_warning": _l("Task time-limit warning"),
    "order_deadline_warning": _l("12345 order time-limit warning"),
    "task_reassigned": _l("Task reassigned"),
    "task_delegated": _l("Task handed over"),
    "task_urged": _l("Reminder sent"),
    "task_returned": _l("Sent back"),
    "task_recalled": _l("Taken back"),
    "task_copied": _l("Copy sent"),
    "task_timeout": _l("Task time limit passed"),
    "task_timeout_failed": _l("Timeout policy failed"),
    "task_skipped": _l("Task skipped (nobody in its group)"),
    "task_routed_to_admin": _l("Task routed to an administrator"),
    "signer_added": _l("Signer added"),
    "signer_removed": _l("Signer removed"),
    "message_received": _l("Result received from outside"),
    "assisted_application_accepted": _l("Assisted application accepted"),
    "order_extension_requested": _l("Extension requested"),
    "order_extension_approved": _l("Extension approved"),
    "order_extension_rejected": _l("Extension rejected"),
    "order_merged_into": _l("Duplicate order merged into this one"),
    "pii_revealed": _l("Personal data shown in full"),
}
# Notes the system writes (timeout policies), stored in English and shown in the UI language.
SYSTEM_NOTES = {
    "The time limit of this task has passed.": _l("The time limit of this task has passed."),
    "The time limit of this task has passed; it was escalated to urgent.":
        _l("The time limit of this task has passed; it was escalated to urgent."),
}
# The time-limit warnings the monthly report counts (kpis.WARNING_EVENTS), named as in its PDF.
WARNING_LABELS = {
    "deadline_warning": _l("Case time-limit warning"),
    "task_deadline_warning": _l("Task time-limit warning"),
    "order_deadline_warning": _l("12345 order time-limit warning"),
}
# The dashboard's exports (kpis.TABLES), named as the dashboard and the monthly report name them.
EXPORT_LABELS = {
    "summary": _l("Headline figures"),
    "departments": _l("Tasks completed per department"),
    "daily": _l("Cases received and completed per day"),
    "units": _l("Handling units by on-time rate"),
    "categories": _l("Top request categories"),
    "reductions": _l("Six reductions (六减)"),
}
# The figures of the dashboard whose cases or orders its drill-down lists (kpis.CASE_METRICS,
# kpis.ORDER_METRICS).
METRIC_LABELS = {
    "received": _l("Cases received"),
    "completed": _l("Cases completed"),
    "immediate": _l("Same-day rate (即办率)"),
    "on_time": _l("On-time rate"),
    "late": _l("Cases completed late"),
    "overdue_open": _l("Overdue now (red)"),
    "yellow_open": _l("Due soon (yellow)"),
    "orders_received": _l("Orders received"),
    "orders_direct": _l("Direct-handling rate (直办率)"),
    "orders_closed": _l("Orders on time"),
    "orders_late": _l("Orders closed late"),
    "orders_returned": _l("Return rate"),
}
SECURITY_EVENT_LABELS = {
    "login_succeeded": _l("Logged in"),
    "login_failed": _l("Login failed"),
    "login_locked": _l("Account locked"),
    "login_refused": _l("Login refused (locked)"),
    "logout": _l("Logged out"),
    "session_expired": _l("Session timed out"),
    "token_issued": _l("API token issued"),
    "token_revoked": _l("API token revoked"),
    "password_changed": _l("Password changed"),
}
SESSION_END_REASONS = {
    "idle": _l("no activity"),
    "max_age": _l("maximum session length"),
}
LOGIN_FAILURE_REASONS = {
    "wrong_password": _l("wrong password"),
    "wrong_current_password": _l("wrong current password (password change)"),
    "unknown_name": _l("no such user name"),
    "inactive": _l("account disabled"),
}
