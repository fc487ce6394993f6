"""Read-only queries behind the workbench pages: inbox tabs with filters, and case search.

These read ``human_tasks``, ``cases`` and the process tables only: the workflow state (and
the process files) are never selected. Who sees what follows ``services.permissions`` and the
inbox views of ``services.tasks``, written here as SQL filters; tests compare the two.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from math import ceil

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Load, contains_eager, defer, lazyload, selectinload

from ..extensions import db
from ..models import Case, HumanTask, ProcessDefinition, ProcessVersion, TaskCandidate, TaskCopy, User
from . import permissions

TABS = ("available", "mine", "completed", "started", "copied")
SORTS = ("oldest", "newest", "receipt")
PER_PAGE = 20
LIVE_STATES = ("open", "claimed")
# Work queues read oldest first (first come, first served); history reads newest first.
DEFAULT_SORT = {"available": "oldest", "mine": "oldest", "completed": "newest", "started": "newest",
                "copied": "newest"}


@dataclass(frozen=True)
class InboxFilters:
    """What the inbox is narrowed to; empty values mean "any"."""

    process_key: str | None = None
    task_name: str | None = None
    text: str | None = None
    sort: str | None = None


@dataclass(frozen=True)
class CaseCriteria:
    """Case search: receipt number prefix, applicant name part, or a full ID number."""

    receipt_no: str | None = None
    applicant_name: str | None = None
    id_number: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.receipt_no or self.applicant_name or self.id_number)


@dataclass
class Page:
    """One page of results."""

    items: list
    total: int
    page: int
    per_page: int
    # The search stops counting at SEARCH_COUNT_LIMIT: there are at least ``total`` results.
    capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass
class StartedCase:
    """A case the user started, with its tasks waiting now."""

    case: Case
    open_tasks: list[HumanTask]


@dataclass
class InboxView:
    """Everything the inbox page shows for one tab."""

    tab: str
    sort: str
    page: Page
    counts: dict[str, int]
    bundles: list[tuple[str, str]]
    task_names: list[str]


# --- visibility -------------------------------------------------------------------------------

def _my_group_ids(user: User) -> list[int]:
    return user.group_ids or [-1]  # IN () is not portable


def _task_scope(user: User, tab: str) -> list[ColumnElement[bool]]:
    """The inbox views of services.tasks as WHERE clauses on human_tasks."""
    if tab == "available":
        in_my_groups = select(TaskCandidate.task_id).where(TaskCandidate.group_id.in_(_my_group_ids(user)))
        # A task for a named person (the applicant lane, a 会签 signer) is theirs alone.
        return [HumanTask.state == "open",
                or_(and_(HumanTask.candidate_user_id.is_(None), HumanTask.id.in_(in_my_groups)),
                    HumanTask.candidate_user_id == user.id)]
    if tab == "mine":
        return [HumanTask.state == "claimed", HumanTask.assignee_id == user.id]
    if tab == "completed":
        return [HumanTask.state == "completed", HumanTask.completed_by_id == user.id]
    if tab == "copied":
        return [HumanTask.id.in_(select(TaskCopy.task_id).where(TaskCopy.user_id == user.id))]
    raise ValueError(f"not a task tab: {tab}")


def visible_cases(user: User) -> ColumnElement[bool]:
    """``permissions.may_see_case`` as a WHERE clause on cases."""
    if user.has_role(*permissions.READ_ALL_CASES):
        return true()
    # Correlated EXISTS, not ``id IN (…)``: PostgreSQL cannot turn either into a join under OR, but an
    # IN list becomes a hash of every case the groups ever touched (200,000 of a million: 1.5 s),
    # while EXISTS probes the indexes for the cases the other criteria left (EXPLAIN in
    # docs/performance.md).
    with_my_groups = (select(HumanTask.id).join(TaskCandidate, TaskCandidate.task_id == HumanTask.id)
                      .where(HumanTask.case_id == Case.id, TaskCandidate.group_id.in_(_my_group_ids(user))))
    copied = select(TaskCopy.id).where(TaskCopy.case_id == Case.id, TaskCopy.user_id == user.id)
    return or_(Case.started_by_id == user.id, with_my_groups.exists(), copied.exists())


# --- loading without workflow state --------------------------------------------------------------

def _light_case(loader):
    """Case columns for lists: no workflow state, no case data, no process files or routing."""
    return loader.options(
        defer(Case.workflow_state), defer(Case.data),
        contains_eager(Case.process_version).options(defer(ProcessVersion.meta), lazyload(ProcessVersion.files)))


def _task_list_query(where):
    return (select(HumanTask)
            .join(Case, HumanTask.case_id == Case.id)
            .join(ProcessVersion, Case.process_version_id == ProcessVersion.id)
            .where(*where)
            .options(_light_case(contains_eager(HumanTask.case)),
                     defer(HumanTask.submitted_data), defer(HumanTask.draft_data),
                     lazyload(HumanTask.candidates)))


def _task_count_query(where):
    return (select(func.count(HumanTask.id)).select_from(HumanTask)
            .join(Case, HumanTask.case_id == Case.id).where(*where))


def _case_count_query(where):
    return select(func.count(Case.id)).where(*where)


def _case_list_query(where):
    return (select(Case)
            .join(ProcessVersion, Case.process_version_id == ProcessVersion.id)
            .where(*where)
            .options(_light_case(Load(Case))))


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _receipt_prefix(value: str) -> ColumnElement[bool]:
    value = value.strip().upper()
    if len(value) > Case.receipt_no.type.length:  # longer than any receipt number: nothing to ask
        return false()  # (and SQLite refuses LIKE patterns over 50,000 bytes)
    return Case.receipt_no.like(_like_escape(value) + "%", escape="\\")


def _name_contains(value: str) -> ColumnElement[bool]:
    value = value.strip()
    if len(value) > Case.applicant_name.type.length:  # longer than any stored name
        return false()
    return Case.applicant_name.ilike("%" + _like_escape(value) + "%", escape="\\")


def _case_filters(filters: InboxFilters) -> list[ColumnElement[bool]]:
    where = []
    if filters.process_key:
        where.append(Case.process_key == filters.process_key)
    if filters.text and filters.text.strip():
        where.append(or_(_receipt_prefix(filters.text), _name_contains(filters.text)))
    return where


def _paginate(count_query, query, order, page: int, per_page: int) -> Page:
    """Count, clamp ``page`` into range, fetch one page."""
    total = db.session.scalar(count_query) or 0
    pages = max(1, ceil(total / per_page))
    page = min(max(1, page), pages)
    items = db.session.scalars(query.order_by(*order).offset((page - 1) * per_page).limit(per_page)).unique().all()
    return Page(list(items), total, page, per_page)


# --- inbox ---------------------------------------------------------------------------------------

def effective_sort(tab: str, sort: str | None) -> str:
    """The chosen sort if valid, else the tab's default."""
    return sort if sort in SORTS else DEFAULT_SORT[tab]


def _task_order(tab: str, sort: str):
    when = HumanTask.completed_at if tab == "completed" else HumanTask.created_at
    if sort == "newest":
        return (when.desc(), HumanTask.id.desc())
    if sort == "receipt":
        return (Case.receipt_no, HumanTask.created_at, HumanTask.id)
    return (when, HumanTask.id)


def _case_order(sort: str):
    if sort == "newest":
        return (Case.started_at.desc(), Case.id.desc())
    if sort == "receipt":
        return (Case.receipt_no,)
    return (Case.started_at, Case.id)


def task_page(user: User, tab: str, filters: InboxFilters, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """One page of the ``available``, ``mine`` or ``completed`` tab, filtered and sorted."""
    where = _task_scope(user, tab) + _case_filters(filters)
    if filters.task_name:
        where.append(HumanTask.name == filters.task_name)
    order = _task_order(tab, effective_sort(tab, filters.sort))
    return _paginate(_task_count_query(where), _task_list_query(where), order, page, per_page)


def started_cases(user: User, filters: InboxFilters, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """One page of the cases the user started, each with its open tasks (task filter: an open task's name)."""
    where = [Case.started_by_id == user.id] + _case_filters(filters)
    if filters.task_name:
        where.append(Case.id.in_(select(HumanTask.case_id).where(
            HumanTask.name == filters.task_name, HumanTask.state.in_(LIVE_STATES))))
    result = _paginate(_case_count_query(where), _case_list_query(where),
                       _case_order(effective_sort("started", filters.sort)), page, per_page)
    waiting = _open_tasks_of([c.id for c in result.items])
    result.items = [StartedCase(c, waiting.get(c.id, [])) for c in result.items]
    return result


def _open_tasks_of(case_ids: list[int]) -> dict[int, list[HumanTask]]:
    """Open and claimed tasks of these cases (the cases are already loaded: no join, no state)."""
    if not case_ids:
        return {}
    rows = db.session.scalars(
        select(HumanTask).where(HumanTask.case_id.in_(case_ids), HumanTask.state.in_(LIVE_STATES))
        .order_by(HumanTask.created_at, HumanTask.id)
        .options(lazyload(HumanTask.case), defer(HumanTask.submitted_data), defer(HumanTask.draft_data),
                 selectinload(HumanTask.candidates).joinedload(TaskCandidate.group)))
    grouped: dict[int, list[HumanTask]] = defaultdict(list)
    for task in rows:
        grouped[task.case_id].append(task)
    return grouped


def tab_counts(user: User) -> dict[str, int]:
    """How many rows each tab holds, without filters."""
    counts = {tab: db.session.scalar(select(func.count(HumanTask.id)).where(*_task_scope(user, tab))) or 0
              for tab in TABS if tab != "started"}
    counts["started"] = db.session.scalar(
        select(func.count(Case.id)).where(Case.started_by_id == user.id)) or 0
    return counts


def bundles() -> list[tuple[str, str]]:
    """Every deployed process as ``(key, name)``, by name."""
    return [(key, name) for key, name in db.session.execute(
        select(ProcessDefinition.key, ProcessDefinition.name).order_by(ProcessDefinition.name,
                                                                      ProcessDefinition.key))]


def task_names(user: User, tab: str) -> list[str]:
    """The distinct task names in a tab (for the started tab: names of the open tasks)."""
    if tab == "started":
        query = (select(HumanTask.name).join(Case, HumanTask.case_id == Case.id)
                 .where(Case.started_by_id == user.id, HumanTask.state.in_(LIVE_STATES)))
    else:
        query = select(HumanTask.name).where(*_task_scope(user, tab))
    return list(db.session.scalars(query.distinct().order_by(HumanTask.name)))


def inbox_view(user: User, tab: str, filters: InboxFilters, page: int = 1, per_page: int = PER_PAGE) -> InboxView:
    """Everything the inbox page shows: the tab's page, counts of every tab, the filter choices."""
    if tab not in TABS:
        tab = "available"
    result = (started_cases(user, filters, page, per_page) if tab == "started"
              else task_page(user, tab, filters, page, per_page))
    return InboxView(tab=tab, sort=effective_sort(tab, filters.sort), page=result, counts=tab_counts(user),
                     bundles=bundles(), task_names=task_names(user, tab))


# --- case search ---------------------------------------------------------------------------------

def normalise_id_number(value: str | None) -> str:
    """Strip spaces and upper-case the check character (x -> X)."""
    return "".join((value or "").split()).upper()


# A search matching more cases than this says "more than …" (and pages through that many): counting
# every match of a common name part means reading every case, and nobody pages that far.
SEARCH_COUNT_LIMIT = 1000


def search_cases(user: User, criteria: CaseCriteria, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Cases the user may see matching every given criterion, newest first (at most
    SEARCH_COUNT_LIMIT of them are counted and paged)."""
    where = [visible_cases(user)]
    if criteria.receipt_no and criteria.receipt_no.strip():
        where.append(_receipt_prefix(criteria.receipt_no))
    name = (criteria.applicant_name or "").strip()
    if name:
        where.append(_name_contains(name) if len(name) >= TRIGRAM else _name_part_scan(name))
    if criteria.id_number is not None:
        wanted = normalise_id_number(criteria.id_number)
        where.append(func.upper(Case.applicant_id_number) == wanted if wanted else false())
    order = (Case.started_at.desc(), Case.id.desc())
    page = min(max(1, page), ceil(SEARCH_COUNT_LIMIT / per_page))

    def fetch(number: int) -> list:
        return list(db.session.scalars(_case_list_query(where).order_by(*order)
                                       .offset((number - 1) * per_page).limit(per_page)).unique())

    items = fetch(page)
    if page == 1 and len(items) < per_page:
        return Page(items, len(items), 1, per_page)  # everything is on this page: nothing to count
    limited = select(Case.id).where(*where).limit(SEARCH_COUNT_LIMIT + 1).subquery()
    total = db.session.scalar(select(func.count()).select_from(limited)) or 0
    found = Page(items, min(total, SEARCH_COUNT_LIMIT), page, per_page, capped=total > SEARCH_COUNT_LIMIT)
    if not items and page > found.pages:  # a page beyond the results (an old link): show the last one
        found.page = found.pages
        found.items = fetch(found.page)
    return found


# A trigram index (pg_trgm) can narrow ``ILIKE '%…%'`` only for a term of three characters or more.
TRIGRAM = 3


def _name_part_scan(value: str) -> ColumnElement[bool]:
    """A name part too short for trigrams (most given names are one or two characters). Written on
    ``applicant_name || ''`` so PostgreSQL scans the cases (in parallel) instead of reading the
    whole trigram index and re-checking every row: 0.25 s instead of 0.6 s over a million cases."""
    return Case.applicant_name.concat("").ilike("%" + _like_escape(value) + "%", escape="\\")
