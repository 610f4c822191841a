"""Reads for the service desk, always through `cases_visible_to`.

Who sees a case: admins and managers see every case; everyone else sees the cases they own
or created, the cases of the queues they are a member of, and the cases of customers
(account, or contact without an account) they may see (rapport/records/visibility.py).
Not visible means 404."""

import datetime
from typing import NamedTuple

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, prefetch_related_objects
from django.utils import timezone

from rapport.cases.models import (
    OPEN_STATUSES,
    AgentStatus,
    Case,
    CaseCategory,
    CaseEntry,
    CaseEntryAttachment,
    Macro,
    Queue,
    QueueMember,
)
from rapport.identity.models import Role, User
from rapport.notifications.selectors import UNREAD_IDS
from rapport.records.exceptions import RecordNotFound
from rapport.records.prepared import Prepared, PreparedUnion
from rapport.records.visibility import visible_ref

CASE_SORTS = {"due_at", "created_at", "updated_at", "number", "priority"}
BREACHING_SOON = datetime.timedelta(hours=4)


def sees_all_cases(user: User | None) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.is_admin or user.role == Role.MANAGER)
    )


_QUEUE_IDS_OF = Prepared(
    lambda user_id: QueueMember.objects.filter(user_id=user_id).values_list("queue_id"), 1
)


def queue_ids_of(user: User) -> list[int]:
    cached = getattr(user, "_rapport_case_queues", None)
    if cached is None:
        cached = [queue_id for (queue_id,) in _QUEUE_IDS_OF(user.pk)]
        user._rapport_case_queues = cached
    return cached


def case_base() -> QuerySet[Case]:
    return Case.objects.filter(deleted_at__isnull=True).select_related(
        "queue",
        "owner",
        "account",
        "contact",
        "category",
        "subcategory",
        "sla_clock__policy__calendar",  # the due time in business time (sla_due)
    )


def cases_visible_to(user: User | None, qs: QuerySet[Case] | None = None) -> QuerySet[Case]:
    """Narrow cases to the ones `user` may read (see the module docstring)."""
    from rapport.accounts.models import Account, Contact

    qs = case_base() if qs is None else qs
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if sees_all_cases(user):
        return qs
    q = Q(owner_id=user.pk) | Q(created_by_id=user.pk)
    queues = queue_ids_of(user)
    if queues:
        q |= Q(queue_id__in=queues)
    q |= visible_ref(Account, user, "account_id")
    q |= Q(account_id__isnull=True) & visible_ref(Contact, user, "contact_id")
    return qs.filter(q)


def _is_agent_of(case: Case, user: User) -> bool:
    """True when one of the cheap branches of `cases_visible_to` grants `case` to an active
    `user`: sees every case, owns or created it, or is a member of its queue."""
    return (
        sees_all_cases(user)
        or case.owner_id == user.pk
        or case.created_by_id == user.pk
        or (case.queue_id is not None and case.queue_id in queue_ids_of(user))
    )


_CASE_BY_KEY: dict[tuple[str, ...] | None, Prepared] = {}


def _case_by_key(related: tuple[str, ...] | None) -> Prepared:
    """The read of one case by key (unordered: `.first()` would add the model's ordering)
    with `related` joined (None: all of `case_base`'s), compiled once per `related`."""
    prepared = _CASE_BY_KEY.get(related)
    if prepared is None:

        def build(pk, related=related):
            qs = case_base()
            if related is not None:
                qs = qs.select_related(None).select_related(*related)
            return qs.filter(pk=pk).order_by()[:1]

        prepared = _CASE_BY_KEY.setdefault(related, Prepared(build, 1))
    return prepared


def case_get_for_user(*, pk: int, user: User, related: tuple[str, ...] | None = None) -> Case:
    """The case if `user` may see it, else RecordNotFound (404).

    The case is read by its key first; an agent who owns it, created it or works its queue
    (nearly every read of a case page) is then known to see it without building the
    customer-visibility condition, which only runs for the other readers. `related` narrows
    the joined records to the ones the caller shows (default: all of `case_base`'s)."""
    if user is None or not user.is_authenticated or not user.is_active:
        raise RecordNotFound("case")
    found = _case_by_key(related)(pk) if 0 < pk < 2**63 else []
    case = found[0] if found else None
    if case is None or not (
        _is_agent_of(case, user) or cases_visible_to(user, Case.objects.filter(pk=pk)).exists()
    ):
        raise RecordNotFound("case")
    return case


def case_by_number(*, number: int, user: User) -> Case:
    case = cases_visible_to(user).filter(number=number).first()
    if case is None:
        raise RecordNotFound("case")
    return case


def case_list(
    *,
    user: User,
    view: str = "",
    q: str | None = None,
    status: list[str] | None = None,
    queue_id: int | None = None,
    owner_id: int | None = None,
    mine: bool = False,
    unassigned: bool = False,
    breaching_soon: bool = False,
    open_only: bool = False,
    priority: list[str] | None = None,
    category_id: int | None = None,
    account_id: int | None = None,
    contact_id: int | None = None,
    now: datetime.datetime | None = None,
) -> QuerySet[Case]:
    """Visible cases with the workspace's filters. `view` is a workspace tab: mine,
    unassigned (in my queues), breaching (due within 4 h or overdue), open."""
    now = now or timezone.now()
    if view == "mine":
        mine, open_only = True, True
    elif view == "unassigned":
        unassigned, open_only = True, True
    elif view == "breaching":
        breaching_soon = True
    elif view == "open":
        open_only = True
    if not user.is_authenticated or not user.is_active or sees_all_cases(user):
        qs = cases_visible_to(user)
    elif mine:
        # Owned cases are visible by the first branch of `cases_visible_to`: the list needs
        # no visibility condition, and its count is read from the open-owner index alone.
        qs = case_base()
    elif view == "unassigned":
        # Cases of the user's own queues: visible by the queue branch, likewise.
        qs = case_base().filter(queue_id__in=queue_ids_of(user))
    else:
        qs = cases_visible_to(user)
    if mine:
        qs = qs.filter(owner_id=user.pk)
    if unassigned:
        qs = qs.filter(owner__isnull=True)
    if breaching_soon:
        qs = qs.filter(status__in=OPEN_STATUSES, due_at__lte=now + BREACHING_SOON)
    if open_only and not status:
        qs = qs.filter(status__in=OPEN_STATUSES)
    if status:
        qs = qs.filter(status__in=status)
    if priority:
        qs = qs.filter(priority__in=priority)
    if queue_id is not None:
        qs = qs.filter(queue_id=queue_id)
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    if category_id is not None:
        qs = qs.filter(Q(category_id=category_id) | Q(subcategory_id=category_id))
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if contact_id is not None:
        qs = qs.filter(contact_id=contact_id)
    if q:
        q = q.strip()
        text = Q(subject__icontains=q)
        if q.lstrip("#").isdigit():
            text |= Q(number=int(q.lstrip("#")))
        qs = qs.filter(text)
    return qs


def case_entries(*, case: Case) -> QuerySet[CaseEntry]:
    """The conversation of a case the caller may see (checked by the caller), oldest first."""
    return (
        CaseEntry.objects.filter(case=case)
        .select_related("author", "message", "message__delivery")
        .prefetch_related(_attachments_prefetch())
    )


CONVERSATION_PAGE = 20


def _entries_newest_first(case_id: int) -> QuerySet[CaseEntry]:
    return (
        CaseEntry.objects.filter(case_id=case_id)
        .select_related("author", "message", "message__delivery")
        .annotate(has_files=Exists(CaseEntryAttachment.objects.filter(entry=OuterRef("pk"))))
        .order_by("-created_at", "-id")
    )


_LATEST_ENTRIES: dict[int, Prepared] = {}


def case_entries_page(
    *, case: Case, before: int | None = None, size: int = CONVERSATION_PAGE
) -> tuple[list[CaseEntry], bool]:
    """The latest `size` entries of a case's conversation (or the `size` before the entry
    `before`), oldest first, and whether older ones exist. The caller has checked that the
    case is visible; its entries are not checked again. Reads the (case, created_at, id)
    index backwards: a long conversation costs one page, not its length."""
    # The attachments are fetched only for the entries that have some (an EXISTS per row of
    # the page on the entry index): most conversations have none, and the prefetch's second
    # statement cost ~1.5 ms of CPU on every case page.
    if before is None:
        # The latest page (every case page): the statement is compiled once.
        prepared = _LATEST_ENTRIES.get(size)
        if prepared is None:
            prepared = _LATEST_ENTRIES.setdefault(
                size, Prepared(lambda case_id: _entries_newest_first(case_id)[: size + 1], 1)
            )
        rows = prepared(case.pk)
    else:
        anchor = (
            CaseEntry.objects.filter(case=case, pk=before).values("created_at").first()
            if 0 < before < 2**63
            else None
        )
        if anchor is None:
            return [], False
        at = anchor["created_at"]
        qs = _entries_newest_first(case.pk).filter(
            Q(created_at__lt=at) | Q(created_at=at, pk__lt=before)
        )
        rows = list(qs[: size + 1])
    has_older = len(rows) > size
    rows = rows[:size]
    rows.reverse()
    with_files = [row for row in rows if row.has_files]
    if with_files:
        prefetch_related_objects(with_files, _attachments_prefetch())
    empty = CaseEntryAttachment.objects.none()
    empty._result_cache, empty._prefetch_done = [], True  # what a prefetch of nothing leaves
    for row in rows:
        if not row.has_files:
            row._prefetched_objects_cache = {"attachments": empty}
    return rows, has_older


def _attachments_prefetch() -> Prefetch:
    return Prefetch(
        "attachments", queryset=CaseEntryAttachment.objects.select_related("file").order_by("id")
    )


def case_attachment_get(*, case: Case, file_id: int):
    """A stored file of `case`'s conversation (the caller checked the case is visible);
    RecordNotFound for a file of another case, or a removed one."""
    found = (
        CaseEntryAttachment.objects.filter(
            entry__case=case, file_id=file_id, file__deleted_at__isnull=True
        )
        .select_related("file")
        .first()
        if 0 < file_id < 2**63
        else None
    )
    if found is None:
        raise RecordNotFound("file")
    return found.file


def cases_of_customer(*, user: User, account=None, contact=None, limit: int = 5):
    """The latest cases of a customer the caller has checked `user` may see. Every case of a
    visible account is visible (a branch of `cases_visible_to`), so that list needs no
    further condition; a contact's cases may belong to accounts the user may not see."""
    if account is not None:
        if not user.is_authenticated or not user.is_active:
            return Case.objects.none()
        qs = case_base().filter(account=account)
    elif contact is not None:
        qs = cases_visible_to(user).filter(contact=contact)
    else:
        return Case.objects.none()
    return qs.order_by("-created_at", "-id")[:limit]


def account_tier_info(account) -> dict:
    """An account's service tier and where it comes from: the manual override (with who set
    it, when and why) when there is one, else analytics' tier (CLV band, RFM segment, churn
    risk) or standard. The caller has already checked that the user sees the account."""
    from rapport.cases.models import AccountServiceTier, ServiceTier
    from rapport.cases.routing import tier_of_account

    override = AccountServiceTier.objects.filter(account=account).select_related("set_by").first()
    if override is not None:
        tier, source = override.tier, "manual"
    else:
        tier, source = tier_of_account(account), "analytics"
    return {
        "tier": tier,
        "label": ServiceTier(tier).label,
        "source": source,
        "override": override,
        "choices": ServiceTier.choices,
    }


def customer_panel(*, case: Case, user: User) -> dict:
    """What the agent sees of the customer: tier, value and churn risk (analytics), open
    opportunities, recent orders and recent cases — only what `user` may see."""
    from rapport.accounts.models import Account, Contact
    from rapport.records.visibility import visible

    out: dict = {"account": None, "contact": None, "score": None, "opportunities": [], "orders": []}
    if case.account_id:
        out["account"] = visible(Account.objects.all(), user).filter(pk=case.account_id).first()
    if case.contact_id:
        out["contact"] = visible(Contact.objects.all(), user).filter(pk=case.contact_id).first()
    account = out["account"]
    if account is not None:
        from rapport.analytics.models import CustomerScore
        from rapport.sales.models import Opportunity, StageKind

        out["score"] = CustomerScore.objects.filter(account=account).first()
        out["opportunities"] = list(
            visible(Opportunity.objects.all(), user)
            .filter(account=account, stage__kind=StageKind.OPEN)
            .select_related("stage")
            .order_by("-created_at")[:5]
        )
        try:
            from rapport.orders.models import Order

            out["orders"] = list(Order.objects.filter(account=account).order_by("-id")[:5])
        except Exception:  # noqa: BLE001 - orders without an account link: none shown
            out["orders"] = []
    out["recent_cases"] = []
    if account is not None or out["contact"] is not None:  # else nothing to read (or compile)
        recent = cases_of_customer(
            user=user, account=account, contact=out["contact"] if not account else None, limit=6
        )
        out["recent_cases"] = [c for c in recent if c.pk != case.pk][:5]
    return out


def macro_context(*, case: Case, user: User) -> dict:
    """The plain data a macro's merge fields may use (never Python objects)."""
    contact = case.contact if case.contact_id else None
    return {
        "case": {
            "number": case.number,
            "subject": case.subject,
            "status": case.get_status_display(),
            "priority": case.get_priority_display(),
            "queue": case.queue.name if case.queue_id else "",
        },
        "contact": {
            "first_name": contact.first_name if contact else "",
            "last_name": contact.last_name if contact else "",
            "name": str(contact) if contact else "",
            "email": (contact.email or "") if contact else "",
        },
        "account": {"name": case.account.name if case.account_id else ""},
        "agent": {
            "first_name": user.first_name or user.username,
            "name": user.get_full_name() or user.username,
        },
    }


def queues_for(user: User) -> QuerySet[Queue]:
    return Queue.objects.all()


def macros_active() -> QuerySet[Macro]:
    return Macro.objects.filter(is_active=True)


class MacroChoice(NamedTuple):
    pk: int
    name: str


_MACRO_CHOICES = Prepared(lambda: macros_active().values_list("pk", "name"))


def macro_choices() -> list[MacroChoice]:
    """The composer's macro picker: the active macros (in the model's order) as (pk, name)
    pairs, read by a statement compiled once (the picker shows nothing else)."""
    return [MacroChoice(pk, name) for pk, name in _MACRO_CHOICES()]


def categories_active() -> QuerySet[CaseCategory]:
    return CaseCategory.objects.filter(is_active=True).select_related("parent")


def case_for_thread(thread_id: int) -> Case | None:
    """The case a mail thread belongs to (following merges), newest first."""
    entry = (
        CaseEntry.objects.filter(message__thread_id=thread_id)
        .select_related("case")
        .order_by("-case__created_at", "-case_id")
        .first()
    )
    if entry is None:
        return None
    case = entry.case
    seen = set()
    while case.merged_into_id and case.pk not in seen:
        seen.add(case.pk)
        case = Case.objects.get(pk=case.merged_into_id)
    return case


def assets_of_case_account(*, case: Case, account) -> list:
    """The installed base an agent may link the case to: the assets of the case's account
    when the agent may see that account (`account` from the customer panel), plus the one
    already linked."""
    from rapport.assets.models import Asset

    if account is None:
        return [case.asset] if case.asset_id else []
    return list(
        Asset.objects.filter(account=account).select_related("product").order_by("id")[:200]
    )


DEFAULT_RESOLUTION_CODES = ("refund", "replacement", "repair", "credit", "explained", "no_fault")


RESOLUTION_CODES_FROM = 500


def resolution_codes() -> list[str]:
    """Suggestions for a case's resolution code: the usual ones and those in use on the
    latest 500 cases that have one (the partial index case_resolution_code_idx, read
    backwards: a bounded read whatever the number of cases), at most 50 of those."""
    return _resolution_codes(_RESOLUTION_CODES_USED())


def _resolution_codes(rows) -> list[str]:
    used = dict.fromkeys(code for _, code in rows)
    return sorted(set(DEFAULT_RESOLUTION_CODES) | set(list(used)[:50]))


# (id, code): the key first, so that the read lines up with the other pickers' (pk, name)
# rows in the case page's union.
_RESOLUTION_CODES_USED = Prepared(
    lambda: (
        Case.objects.exclude(resolution_code="")
        .order_by("-id")
        .values_list("id", "resolution_code")[:RESOLUTION_CODES_FROM]
    )
)


def agents() -> QuerySet[User]:
    """Who a case can be assigned to: the active users who are not read-only, by username."""
    return User.objects.filter(is_active=True).exclude(role=Role.READ_ONLY).order_by("username")


# The pickers' options as narrow rows (pk, username, first, last) and (pk, name) in the
# model's order, compiled once: every agent and queue of the desk is listed on every case
# page and workspace.
AGENT_ROWS = Prepared(lambda: agents().values_list("pk", "username", "first_name", "last_name"))
QUEUE_ROWS = Prepared(lambda: Queue.objects.filter(is_active=True).values_list("pk", "name"))


# The workspace's header: the agent's availability (user_id first to line up with the
# other parts' integer keys), the pickers and the bell's read, as one statement.
_WORKSPACE_HEADER = PreparedUnion(
    Prepared(
        lambda user_id: AgentStatus.objects.filter(user_id=user_id).values_list(
            "user_id", "availability"
        ),
        1,
    ),
    QUEUE_ROWS,
    AGENT_ROWS,
    UNREAD_IDS,
    nargs=1,
)


class WorkspacePickers(NamedTuple):
    """What the workspace shows besides its rows, read in one statement."""

    availability: str | None  # the user's AgentStatus, None without one
    queues: list[tuple[int, str]]  # QUEUE_ROWS
    agents: list[tuple[int, str, str, str]]  # AGENT_ROWS
    unread_notifications: int  # the bell's count (notifications.selectors.unread_count)


def workspace_pickers(user: User) -> WorkspacePickers:
    """The agent's availability, the queue and owner pickers' options and the bell's unread
    count in ONE statement (four reads before: ~0.6 ms of ORM compilation each on every
    workspace view): a `PreparedUnion` of the same querysets the other pages run
    (QUEUE_ROWS, AGENT_ROWS, notifications' UNREAD_IDS), compiled once per process."""
    status, queues, agent_rows, unread = _WORKSPACE_HEADER(user.pk)
    return WorkspacePickers(status[0][1] if status else None, queues, agent_rows, len(unread))


class CasePagePickers(NamedTuple):
    """What the case page shows besides the case, its conversation and its customer, read
    in one statement."""

    queues: list[tuple[int, str]]  # QUEUE_ROWS
    agents: list[tuple[int, str, str, str]]  # AGENT_ROWS
    macros: list[MacroChoice]  # macro_choices()
    resolution_codes: list[str]  # resolution_codes()
    unread_notifications: int  # the bell's count (notifications.selectors.unread_count)


_CASE_PAGE_HEADER = PreparedUnion(
    UNREAD_IDS, QUEUE_ROWS, AGENT_ROWS, _MACRO_CHOICES, _RESOLUTION_CODES_USED, nargs=1
)


def case_page_pickers(user: User) -> CasePagePickers:
    """The case page's queue, owner, macro and resolution-code pickers and the bell's
    unread count in ONE statement (five round trips before): a `PreparedUnion` of the
    reads `macro_choices`, `resolution_codes`, the workspace and the bell run alone."""
    unread, queues, agent_rows, macros, codes = _CASE_PAGE_HEADER(user.pk)
    return CasePagePickers(
        queues,
        agent_rows,
        [MacroChoice(pk, name) for pk, name in macros],
        _resolution_codes(codes),
        len(unread),
    )
