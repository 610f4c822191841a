"""Service desk pages (namespace "cases", under /cases/): the agent workspace, the case page
with its conversation and composer, bulk actions, a new-case form, the customer cards on
account and contact pages, and the configuration page (queues, categories, routing rules,
macros). Thin: every read through the selectors, every write through the services."""

from typing import NamedTuple

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from rapport.cases import selectors, services
from rapport.cases.models import (
    OPEN_STATUSES,
    AgentAvailability,
    AssignmentMode,
    CaseCategory,
    CaseChannel,
    CaseEntry,
    CasePriority,
    CaseStatus,
    Macro,
    Queue,
    RoutingRule,
    ServiceTier,
)
from rapport.identity.models import Role
from rapport.records.exceptions import RecordNotFound
from rapport.records.prepared import Prepared
from rapport.web.decorators import ui_view

TABS = [
    ("mine", "My cases"),
    ("unassigned", "Unassigned in my queues"),
    ("breaching", "Breaching soon"),
    ("open", "All open"),
    ("all", "All"),
]
PAGE = 50
# What the case page shows of the case's own relations (the due time in business time, the
# categories); queue and owner are picked by key, and the customer panel reads the account and
# contact itself under their visibility — joining them again cost ~1.5 ms of CPU a page.
CASE_PAGE_RELATED = ("category", "subcategory", "sla_clock__policy__calendar")


# What a workspace row shows (cases_ui.case_rows) and nothing else: the columns of the case
# and of the five joined tables it reads; the rest (descriptions, every column of the user,
# account and contact rows) was ~1 ms of CPU a page to decode and set on 50 × 6 instances.
# test_workspace_rows.py checks the page reads nothing lazily.
WORKSPACE_RELATED = ("queue", "owner", "account", "contact", "sla_clock__policy__calendar")
WORKSPACE_ROW_FIELDS = (
    "number",
    "subject",
    "tier",
    "status",
    "priority",
    "due_at",
    "queue__name",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
    "account__name",
    "contact__first_name",
    "contact__last_name",
    "sla_clock__policy__pause_statuses",
    "sla_clock__policy__calendar__updated_at",
)


_agents = selectors.agents


class AgentChoice(NamedTuple):
    pk: int
    name: str


def _agent_choice(pk: int, username: str, first: str, last: str) -> AgentChoice:
    return AgentChoice(pk, f"{first} {last}".strip() or username)


_AGENT_CHOICES: dict[tuple, tuple[AgentChoice, ...]] = {}


def _agent_choices(rows=None) -> tuple[AgentChoice, ...]:
    """The owner pickers' options as plain (pk, name) pairs from AGENT_ROWS (read here
    unless given): one narrow read (compiled once), no model instances (every agent of the
    desk is listed on every case page and workspace). The pairs are made once per process
    for the same rows (~200 names joined on every case page otherwise)."""
    rows = tuple(selectors.AGENT_ROWS() if rows is None else rows)
    choices = _AGENT_CHOICES.get(rows)
    if choices is None:
        if len(_AGENT_CHOICES) >= 8:
            _AGENT_CHOICES.clear()
        choices = _AGENT_CHOICES[rows] = tuple(_agent_choice(*row) for row in rows)
    return choices


class QueueChoice(NamedTuple):
    pk: int
    name: str


def _queue_choices(rows=None) -> list[QueueChoice]:
    """The queue pickers' options (active queues, in the model's order) as (pk, name) pairs
    from QUEUE_ROWS (read here unless given): the pickers show nothing else, and model
    instances cost CPU on every case page."""
    return [
        QueueChoice(pk, name) for pk, name in (selectors.QUEUE_ROWS() if rows is None else rows)
    ]


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


def _workspace_rows(qs):
    """A page of workspace rows: the next SLA target first, cases with none (paused, met, no
    policy) after, on both backends (SQLite sorts NULL first by default, PostgreSQL last);
    only what the rows show (the customer, queue, owner and SLA due time)."""
    qs = qs.select_related(None).select_related(*WORKSPACE_RELATED).only(*WORKSPACE_ROW_FIELDS)
    return qs.order_by(F("due_at").asc(nulls_last=True), "-created_at", "-id")[:PAGE]


class _Agent(NamedTuple):
    """An active agent who does not see every case, by key: what `case_list` reads of one."""

    pk: int
    is_authenticated: bool = True
    is_active: bool = True
    is_admin: bool = False
    role: str = Role.SALES_REP


# The "mine" tab of an agent who does not see every case (the workspace's default page):
# the queryset `case_list` builds for them, compiled once per process (its ORM compilation
# was ~1.5 ms of CPU a page); test_workspace_rows.py compares it with `case_list`'s.
_MY_OPEN_ROWS = Prepared(
    lambda user_id: _workspace_rows(selectors.case_list(user=_Agent(user_id), view="mine")), 1
)


@ui_view
@require_safe
def workspace(request):
    tab = request.GET.get("view", "mine")
    if tab not in dict(TABS):
        tab = "mine"
    q = request.GET.get("q", "").strip()
    queue_id = request.GET.get("queue")
    user = request.user
    if tab == "mine" and not q and not queue_id and not selectors.sees_all_cases(user):
        rows = _MY_OPEN_ROWS(user.pk)  # the default page, compiled once
    else:
        qs = selectors.case_list(
            user=user,
            view="" if tab == "all" else tab,
            q=q or None,
            queue_id=int(queue_id) if queue_id and queue_id.isdigit() else None,
        )
        rows = list(_workspace_rows(qs))
    # Availability, pickers and the bell's count in one statement (the bell's own read is
    # then skipped: the view's context wins over the context processor's).
    header = selectors.workspace_pickers(user)
    return render(
        request,
        "cases/workspace.html",
        {
            "tabs": TABS,
            "tab": tab,
            "rows": rows,
            "q": q,
            "more": len(rows) == PAGE,
            "queues": _queue_choices(header.queues),
            "agents": _agent_choices(header.agents),
            "statuses": CaseStatus.choices,
            "availability": (
                AgentAvailability.OFFLINE if header.availability is None else header.availability
            ),
            "unread_notifications": header.unread_notifications,
            "availabilities": AgentAvailability.choices,
            "can_work": not request.user.is_read_only,
            "can_configure": request.user.is_admin or request.user.role == "manager",
        },
    )


@ui_view
@require_POST
def agent_status(request):
    try:
        services.agent_status_set(user=request.user, availability=request.POST.get("availability"))
        messages.success(request, "Your availability is updated.")
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect(request.POST.get("next") or reverse("cases:workspace"))


@ui_view
@require_POST
def bulk(request):
    """Assign, move or set the status of the selected cases (each through the services; the
    ones the user may not see are skipped)."""
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    action = request.POST.get("action")
    cases = list(selectors.cases_visible_to(request.user).filter(pk__in=ids))
    done, failed = 0, []
    for case in cases:
        try:
            if action == "assign":
                owner_id = request.POST.get("owner")
                owner = _agents().filter(pk=owner_id).first() if owner_id else None
                services.case_assign(case=case, actor=request.user, owner=owner)
            elif action == "status":
                services.case_set_status(
                    case=case, status=request.POST.get("status", ""), actor=request.user
                )
            elif action == "queue":
                queue = Queue.objects.filter(pk=request.POST.get("queue") or 0).first()
                services.case_assign(case=case, actor=request.user, queue=queue)
            else:
                raise ValidationError({"action": ["choose assign, status or queue"]})
            done += 1
        except ValidationError as exc:
            failed.append(f"#{case.number}: {_errors(exc)}")
    if done:
        messages.success(request, f"{done} case{'s' if done != 1 else ''} updated.")
    for text in failed[:5]:
        messages.error(request, text)
    return redirect(request.POST.get("next") or reverse("cases:workspace"))


class CaseForm(forms.Form):
    subject = forms.CharField(max_length=250)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)
    channel = forms.ChoiceField(choices=CaseChannel.choices, initial=CaseChannel.PHONE)
    priority = forms.ChoiceField(choices=CasePriority.choices, initial=CasePriority.NORMAL)
    category = forms.ModelChoiceField(queryset=CaseCategory.objects.none(), required=False)
    queue = forms.ModelChoiceField(
        queryset=Queue.objects.filter(is_active=True),
        required=False,
        empty_label="(routing rules decide)",
    )
    contact_email = forms.EmailField(
        required=False, help_text="The customer's email address (an existing contact)."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = selectors.categories_active()


@ui_view
@require_http_methods(["GET", "POST"])
def case_new(request):
    form = CaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        email = data.pop("contact_email")
        if email:
            from rapport.accounts.selectors import contacts_visible_to

            contact = contacts_visible_to(request.user).filter(email__iexact=email).first()
            if contact is None:
                form.add_error("contact_email", "No contact you can see has this address.")
            data["contact"] = contact
        if form.is_valid():
            try:
                case = services.case_create(actor=request.user, fields=data)
                messages.success(request, f"Case #{case.number} opened.")
                return redirect("cases:detail", pk=case.pk)
            except ValidationError as exc:
                form.add_error(None, _errors(exc))
    return render(request, "cases/case_new.html", {"form": form})


# The pickers' fixed choices as plain pairs, built once (`.choices` makes a new list per call).
_STATUS_PAIRS = tuple(CaseStatus.choices)
_PRIORITY_PAIRS = tuple(CasePriority.choices)


def _case_context(request, case) -> dict:
    from django.utils import timezone

    from rapport.records.visibility import can_edit

    entries, has_older = selectors.case_entries_page(case=case, before=_before(request))
    customer = selectors.customer_panel(case=case, user=request.user)
    account = customer["account"]
    asset = case.asset if case.asset_id else None
    today = timezone.localdate()
    tier_override = None
    if account is not None:
        from rapport.cases.models import AccountServiceTier

        tier_override = AccountServiceTier.objects.filter(account=account).first()
    from rapport.fieldservice.selectors import work_orders_of_case

    pickers = selectors.case_page_pickers(request.user)

    return {
        "case": case,
        "entries": entries,
        "has_older": has_older,
        "splittable": has_older or len(entries) > 1,
        "work_orders": work_orders_of_case(case=case, user=request.user),
        "resolution_code_pairs": [(code, "") for code in pickers.resolution_codes],
        "customer": customer,
        "asset": asset,
        # warranty_end >= today (the assets branch's rule); None: no warranty date known
        "under_warranty": (
            asset.warranty_end >= today if asset is not None and asset.warranty_end else None
        ),
        "account_assets": selectors.assets_of_case_account(case=case, account=account),
        "tier_override": tier_override,
        "can_set_tier": account is not None and can_edit(account, request.user),
        "tiers": ServiceTier.choices,
        "macros": pickers.macros,
        "statuses": _STATUS_PAIRS,
        "priorities": _PRIORITY_PAIRS,
        "queues": _queue_choices(pickers.queues),
        "agents": _agent_choices(pickers.agents),
        "unread_notifications": pickers.unread_notifications,
        "can_work": not request.user.is_read_only and not case.merged_into_id,
        "is_open": case.status in OPEN_STATUSES,
    }


@ui_view
@require_safe
def case_detail(request, pk: int):
    case = selectors.case_get_for_user(pk=pk, user=request.user, related=CASE_PAGE_RELATED)
    return render(request, "cases/case_detail.html", _case_context(request, case))


def _before(request) -> int | None:
    value = request.GET.get("before", "")
    return int(value) if value.isdigit() else None


@ui_view
@require_safe
def case_entries_older(request, pk: int):
    """The page of the conversation before the entry `before` (htmx: replaces the "show
    older" link it came from, with the next such link on top when there are more)."""
    case = selectors.case_get_for_user(pk=pk, user=request.user)
    entries, has_older = selectors.case_entries_page(case=case, before=_before(request))
    return render(
        request,
        "cases/_conversation_page.html",
        {
            "case": case,
            "entries": entries,
            "has_older": has_older,
            "splittable": True,
            "can_work": not request.user.is_read_only and not case.merged_into_id,
        },
    )


@ui_view
@require_POST
def case_controls(request, pk: int):
    """Status, priority, owner and queue from the case page's header."""
    case = selectors.case_get_for_user(pk=pk, user=request.user)
    fields = {}
    if request.POST.get("status"):
        fields["status"] = request.POST["status"]
    if request.POST.get("priority"):
        fields["priority"] = request.POST["priority"]
    if "owner" in request.POST:
        owner_id = request.POST.get("owner")
        fields["owner"] = _agents().filter(pk=owner_id).first() if owner_id else None
    if "queue" in request.POST:
        queue_id = request.POST.get("queue")
        fields["queue"] = Queue.objects.filter(pk=queue_id).first() if queue_id else None
    if "resolution_code" in request.POST:
        fields["resolution_code"] = request.POST["resolution_code"]
    try:
        diff = services.case_update(case=case, actor=request.user, fields=fields)
        if diff:
            messages.success(request, "Case updated.")
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("cases:detail", pk=case.pk)


@ui_view
@require_POST
def case_compose(request, pk: int):
    """The composer: a public reply (by email) or an internal note, optionally through a
    macro (its field changes are applied after the text)."""
    case = selectors.case_get_for_user(pk=pk, user=request.user)
    body = request.POST.get("body", "")
    kind = request.POST.get("kind", "reply")
    status = request.POST.get("status") or None
    uploads = request.FILES.getlist("files")
    macro = None
    if request.POST.get("macro"):
        macro = selectors.macros_active().filter(pk=request.POST["macro"]).first()
    try:
        if macro is not None:
            services.macro_apply(
                case=case,
                macro=macro,
                actor=request.user,
                send=kind == "reply",
                body=body,
                uploads=uploads,
            )
        elif kind == "note":
            services.case_note(case=case, actor=request.user, body=body, uploads=uploads)
        else:
            services.case_reply(
                case=case, actor=request.user, body=body, status=status, uploads=uploads
            )
        if status and (kind == "note" or macro is not None):
            case.refresh_from_db()
            services.case_set_status(case=case, status=status, actor=request.user)
        messages.success(request, "Reply queued for sending." if kind == "reply" else "Note added.")
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect(f"{reverse('cases:detail', args=[case.pk])}#composer")


@ui_view
@require_POST
def case_asset(request, pk: int):
    """Set (or clear) the installed-base asset the case is about."""
    case = selectors.case_get_for_user(pk=pk, user=request.user)
    asset = None
    if request.POST.get("asset"):
        asset = selectors.assets_of_case_account(
            case=case, account=selectors.customer_panel(case=case, user=request.user)["account"]
        )
        asset = next((a for a in asset if str(a.pk) == request.POST["asset"]), None)
        if asset is None:
            messages.error(request, "Choose one of the customer's assets.")
            return redirect("cases:detail", pk=case.pk)
    try:
        services.case_update(case=case, actor=request.user, fields={"asset": asset})
        messages.success(request, "Asset saved.")
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("cases:detail", pk=case.pk)


@ui_view
@require_POST
def case_tier(request, pk: int):
    """The customer's manual service tier (wins over analytics' tier; empty removes it)."""
    from rapport.accounts.models import Account
    from rapport.records.visibility import visible

    case = selectors.case_get_for_user(pk=pk, user=request.user)
    account = (
        visible(Account.objects.all(), request.user).filter(pk=case.account_id).first()
        if case.account_id
        else None
    )
    if account is None:
        raise RecordNotFound("account")
    error = _tier_from_post(request, account)
    if error:
        messages.error(request, error)
    return redirect("cases:detail", pk=case.pk)


def _tier_from_post(request, account) -> str:
    """Set the account's manual tier from the posted form (the case page's and the account
    page's); the error to show, or "" (success queues its own message)."""
    try:
        services.account_tier_set(
            account=account,
            tier=request.POST.get("tier", ""),
            actor=request.user,
            note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        return _errors(exc)
    messages.success(request, "Service tier saved; it applies to cases opened from now on.")
    return ""


@ui_view
@require_safe
def case_attachment(request, pk: int, file_id: int):
    """Download a file of the case's conversation: only for who can see the case (else the
    same 404 as a missing case or a file of another case)."""
    from rapport.files.downloads import file_download_response

    case = selectors.case_get_for_user(pk=pk, user=request.user)
    return file_download_response(selectors.case_attachment_get(case=case, file_id=file_id))


@ui_view
@require_safe
def macro_preview(request, pk: int):
    """The macro rendered for this case, as the composer's textarea (htmx swaps it in)."""
    case = selectors.case_get_for_user(pk=pk, user=request.user)
    macro = selectors.macros_active().filter(pk=request.GET.get("macro") or 0).first()
    text = ""
    if macro is not None:
        try:
            text = services.macro_render(case=case, macro=macro, actor=request.user)
        except ValidationError as exc:
            text = _errors(exc)
    return render(request, "cases/_reply_body.html", {"text": text})


@ui_view
@require_POST
def case_merge(request, pk: int):
    case = selectors.case_get_for_user(pk=pk, user=request.user)
    number = request.POST.get("target", "").lstrip("#").strip()
    try:
        if not number.isdigit():
            raise ValidationError({"target": ["give the number of the case to merge into"]})
        try:
            target = selectors.case_by_number(number=int(number), user=request.user)
        except RecordNotFound:
            raise ValidationError({"target": [f"no case #{number} you can see"]}) from None
        services.case_merge(source=case, target=target, actor=request.user)
        messages.success(request, f"Merged into #{target.number}.")
        return redirect("cases:detail", pk=target.pk)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("cases:detail", pk=case.pk)


@ui_view
@require_POST
def case_split(request, pk: int, entry_id: int):
    case = selectors.case_get_for_user(pk=pk, user=request.user)
    entry = CaseEntry.objects.filter(pk=entry_id, case=case).select_related("case").first()
    if entry is None:
        raise RecordNotFound("message")
    try:
        new = services.case_split(entry=entry, actor=request.user)
        messages.success(request, f"Split into #{new.number}.")
        return redirect("cases:detail", pk=new.pk)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("cases:detail", pk=case.pk)


@ui_view
@require_safe
def record_cases(request, object_type: str, pk: int):
    """The cases card on an account's or a contact's page (loaded by htmx)."""
    from rapport.accounts.selectors import account_get_for_user, contact_get_for_user

    if object_type == "account":
        record = account_get_for_user(pk=pk, user=request.user)
        rows = selectors.cases_of_customer(user=request.user, account=record, limit=10)
    elif object_type == "contact":
        record = contact_get_for_user(pk=pk, user=request.user)
        rows = selectors.cases_of_customer(user=request.user, contact=record, limit=10)
    else:
        raise RecordNotFound(object_type)
    return render(request, "cases/_record_cases.html", _record_cases_context(request, record, rows))


def _record_cases_context(request, record, rows) -> dict:
    from rapport.records.visibility import can_edit

    context = {"rows": rows, "record": record}
    if record.OBJECT_TYPE == "account":
        context["tier"] = selectors.account_tier_info(record)
        context["can_set_tier"] = not request.user.is_read_only and can_edit(record, request.user)
    return context


@ui_view
@require_POST
def account_tier(request, pk: int):
    """Set or clear an account's manual service tier from the Cases card of the account page
    (htmx swaps the card; without JavaScript, back to the account page)."""
    from rapport.accounts.selectors import account_get_for_user
    from rapport.web.fragments import is_htmx, render_fragment

    account = account_get_for_user(pk=pk, user=request.user)
    error = _tier_from_post(request, account)
    if not is_htmx(request):
        if error:
            messages.error(request, error)
        return redirect("accounts:account_detail", pk=account.pk)
    rows = selectors.cases_of_customer(user=request.user, account=account, limit=10)
    context = _record_cases_context(request, account, rows)
    context["tier_error"] = error
    return render_fragment(
        request, "cases/_record_cases.html", context, status=422 if error else 200
    )


# ----- configuration ---------------------------------------------------------------------------


def _require_config(request):
    services.require_service_admin(request.user)


@ui_view
@require_http_methods(["GET", "POST"])
def configure(request):
    """Queues, categories, routing rules and macros on one page (admins and managers)."""
    _require_config(request)
    if request.method == "POST":
        what = request.POST.get("what")
        try:
            _configure_save(request, what)
            messages.success(request, "Saved.")
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        return redirect(reverse("cases:configure") + f"#{what}")
    from rapport.mail.models import Mailbox

    return render(
        request,
        "cases/configure.html",
        {
            "queues": Queue.objects.prefetch_related("memberships__user").select_related("mailbox"),
            "categories": CaseCategory.objects.select_related("parent"),
            "rules": RoutingRule.objects.select_related("queue", "category", "mailbox"),
            "macros": Macro.objects.all(),
            "mailboxes": Mailbox.objects.filter(active=True),
            "agents": _agents(),
            "assignments": AssignmentMode.choices,
            "channels": CaseChannel.choices,
            "tiers": ServiceTier.choices,
            "priorities": CasePriority.choices,
        },
    )


def _configure_save(request, what: str) -> None:
    post = request.POST
    actor = request.user
    if what == "queues":
        from rapport.mail.models import Mailbox

        services.queue_save(
            actor=actor,
            fields={
                "name": post.get("name", ""),
                "assignment": post.get("assignment", "manual"),
                "mailbox": Mailbox.objects.filter(pk=post.get("mailbox") or 0).first(),
            },
            member_ids=[int(i) for i in post.getlist("members") if i.isdigit()],
        )
    elif what == "categories":
        parent = CaseCategory.objects.filter(pk=post.get("parent") or 0).first()
        services.category_save(actor=actor, fields={"name": post.get("name", ""), "parent": parent})
    elif what == "rules":
        services.routing_rule_save(
            actor=actor,
            fields={
                "name": post.get("name", ""),
                "position": int(post.get("position") or 0),
                "category": CaseCategory.objects.filter(pk=post.get("category") or 0).first(),
                "channel": post.get("channel", ""),
                "keywords": post.get("keywords", ""),
                "tier": post.get("tier", ""),
                "language": post.get("language", ""),
                "queue": Queue.objects.filter(pk=post.get("queue") or 0).first(),
                "priority": post.get("priority", ""),
            },
        )
    elif what == "macros":
        import json

        try:
            set_fields = json.loads(post.get("set_fields") or "{}")
        except ValueError:
            raise ValidationError({"set_fields": ["must be a JSON object"]}) from None
        if not isinstance(set_fields, dict):
            raise ValidationError({"set_fields": ["must be a JSON object"]})
        if Macro.objects.filter(name=post.get("name", "")).exists():
            raise ValidationError({"name": ["another macro has this name"]})
        services.macro_save(
            actor=actor,
            fields={
                "name": post.get("name", ""),
                "body": post.get("body", ""),
                "set_fields": set_fields,
            },
        )
    else:
        raise ValidationError({"what": ["unknown section"]})


# ----- configuration: one object's edit page, delete, rule order --------------------------

_CONFIG_MODELS = {
    "queues": Queue,
    "categories": CaseCategory,
    "rules": RoutingRule,
    "macros": Macro,
}


def _config_object(kind: str, pk: int):
    model = _CONFIG_MODELS.get(kind)
    found = model.objects.filter(pk=pk).first() if model is not None else None
    if found is None:
        raise RecordNotFound(kind)
    return found


def _config_edit_save(request, kind: str, obj) -> None:
    post = request.POST
    actor = request.user
    if kind == "queues":
        from rapport.mail.models import Mailbox

        member_ids = [int(i) for i in post.getlist("members") if i.isdigit()]
        services.queue_save(
            actor=actor,
            queue=obj,
            fields={
                "name": post.get("name", ""),
                "assignment": post.get("assignment", "manual"),
                "mailbox": Mailbox.objects.filter(pk=post.get("mailbox") or 0).first(),
                "is_active": post.get("is_active") == "on",
            },
            member_ids=member_ids,
        )
        capacities = {}
        for user_id in member_ids:
            raw = post.get(f"capacity-{user_id}", "")
            if raw.strip():
                if not raw.strip().isdigit():
                    raise ValidationError({"capacity": ["must be a whole number"]})
                capacities[user_id] = int(raw)
        services.queue_capacities_set(actor=actor, queue=obj, capacities=capacities)
    elif kind == "categories":
        parent = CaseCategory.objects.filter(pk=post.get("parent") or 0).first()
        services.category_save(
            actor=actor, category=obj, fields={"name": post.get("name", ""), "parent": parent}
        )
    elif kind == "rules":
        from rapport.mail.models import Mailbox

        services.routing_rule_save(
            actor=actor,
            rule=obj,
            fields={
                "name": post.get("name", "") or obj.name,
                "is_active": post.get("is_active") == "on",
                "category": CaseCategory.objects.filter(pk=post.get("category") or 0).first(),
                "channel": post.get("channel", ""),
                "mailbox": Mailbox.objects.filter(pk=post.get("mailbox") or 0).first(),
                "keywords": post.get("keywords", ""),
                "tier": post.get("tier", ""),
                "language": post.get("language", ""),
                "queue": Queue.objects.filter(pk=post.get("queue") or 0).first() or obj.queue,
                "priority": post.get("priority", ""),
            },
        )
    else:
        import json

        try:
            set_fields = json.loads(post.get("set_fields") or "{}")
        except ValueError:
            raise ValidationError({"set_fields": ["must be a JSON object"]}) from None
        if not isinstance(set_fields, dict):
            raise ValidationError({"set_fields": ["must be a JSON object"]})
        name = post.get("name", "").strip()
        if not name:
            raise ValidationError({"name": ["A macro needs a name"]})
        if Macro.objects.filter(name=name).exclude(pk=obj.pk).exists():
            raise ValidationError({"name": ["another macro has this name"]})
        services.macro_save(
            actor=actor,
            macro=obj,
            fields={
                "name": name,
                "body": post.get("body", ""),
                "set_fields": set_fields,
                "is_active": post.get("is_active") == "on",
            },
        )


@ui_view
@require_http_methods(["GET", "POST"])
def configure_edit(request, kind: str, pk: int):
    """Edit one queue (with its agents and their capacity), category, routing rule or
    macro (admins and managers)."""
    _require_config(request)
    obj = _config_object(kind, pk)
    if request.method == "POST":
        try:
            _config_edit_save(request, kind, obj)
            messages.success(request, "Saved.")
            return redirect(reverse("cases:configure") + f"#{kind}")
        except ValidationError as exc:
            messages.error(request, _errors(exc))
            obj = _config_object(kind, pk)  # what is stored, not the rejected edit
    from rapport.mail.models import Mailbox

    context = {
        "kind": kind,
        "obj": obj,
        "mailboxes": Mailbox.objects.filter(active=True),
        "agents": _agents(),
        "assignments": AssignmentMode.choices,
        "channels": CaseChannel.choices,
        "tiers": ServiceTier.choices,
        "priorities": CasePriority.choices,
        "queues": Queue.objects.all(),
        "categories": CaseCategory.objects.select_related("parent"),
    }
    if kind == "queues":
        members = {m.user_id: m for m in obj.memberships.all()}
        context["agent_rows"] = [
            {"user": a, "member": members.get(a.pk)} for a in context["agents"]
        ]
    if kind == "macros":
        import json

        context["set_fields_json"] = json.dumps(obj.set_fields or {})
    return render(request, "cases/configure_edit.html", context)


@ui_view
@require_POST
def configure_delete(request, kind: str, pk: int):
    _require_config(request)
    obj = _config_object(kind, pk)
    delete = {
        "queues": lambda: services.queue_delete(actor=request.user, queue=obj),
        "categories": lambda: services.category_delete(actor=request.user, category=obj),
        "rules": lambda: services.routing_rule_delete(actor=request.user, rule=obj),
        "macros": lambda: services.macro_delete(actor=request.user, macro=obj),
    }[kind]
    try:
        delete()
        messages.success(request, f"Deleted “{obj}”.")
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect(reverse("cases:configure") + f"#{kind}")


@ui_view
@require_POST
def configure_rule_move(request, pk: int, direction: str):
    _require_config(request)
    rule = _config_object("rules", pk)
    services.routing_rule_move(actor=request.user, rule=rule, step=-1 if direction == "up" else 1)
    return redirect(reverse("cases:configure") + "#rules")


def empty(request) -> HttpResponse:
    return HttpResponse("")
