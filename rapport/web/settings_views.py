"""Settings pages (namespace "settings"): users, teams, roles, organisation-wide defaults,
pipelines and stages, custom fields.

Administrators change them; managers may read them; everyone else gets 403. Every write
is a POST through a service (identity, sales, records) and answers with the section page
again.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.identity.models import Role
from rapport.identity.selectors import teams_for, users_for
from rapport.identity.services import (
    can_view_settings,
    require_settings_admin,
    team_create,
    team_update,
    user_create,
    user_deactivate,
    user_reactivate,
    user_set_role,
    user_set_team,
)
from rapport.records.custom_fields import custom_field_define
from rapport.records.exceptions import Conflict, PermissionDenied, RecordNotFound
from rapport.records.models import Access, CustomFieldDefinition, ObjectType, OrgDefault
from rapport.records.services import custom_field_delete, org_default_set
from rapport.sales import selectors as sales_selectors
from rapport.sales import services as sales_services
from rapport.sales.services import stage_move
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.settings_forms import (
    ACCESS_HELP,
    ROLE_HELP,
    STANDARD_STAGES,
    CustomFieldForm,
    OrgDefaultForm,
    PipelineForm,
    PipelineRenameForm,
    RoleForm,
    StageForm,
    TeamForm,
    UserCreateForm,
)

SECTIONS = [
    ("users", "Users", "Who can sign in; add people, deactivate those who left."),
    ("teams", "Teams", "Teams, their managers and how they nest."),
    ("roles", "Roles", "What each role may do, and who has which."),
    ("sharing", "Sharing", "Who sees whose records by default."),
    ("pipelines", "Pipelines", "Sales pipelines and their stages."),
    ("playbooks", "Playbooks", "Recommended next steps per stage, shown on opportunities."),
    ("lost_reasons", "Lost reasons", "The picklist of why deals are lost, for win/loss reports."),
    ("custom_fields", "Custom fields", "Extra fields on accounts, contacts, leads and deals."),
    ("webhooks", "Webhooks", "Signed outbound webhooks, their deliveries and allowed networks."),
    ("inbound", "Inbound webhooks", "Calls, chats and sales other systems send in."),
    ("calendars", "Business calendars", "Opening hours and holidays for waits and service clocks."),
    ("sla", "SLA policies", "Response and resolution targets for cases, and their escalations."),
    ("tax_rates", "Tax rates", "VAT and sales tax on quotes, by product and country."),
    ("automation", "Automation", "Rules: when something happens, do that; their run history."),
    ("consent", "Consent", "Marketing purposes with their policy texts, and the suppression list."),
]
# Sections only administrators may open (they hold secrets): not offered to managers.
ADMIN_SECTIONS = {"webhooks", "inbound"}


def visible_sections(user) -> list[tuple[str, str, str]]:
    return [s for s in SECTIONS if s[0] not in ADMIN_SECTIONS or user.is_admin]


def _viewer(request) -> None:
    if not can_view_settings(request.user):
        raise PermissionDenied("Only administrators and managers may see the settings")


def _page(request, section: str, template: str, context: dict, status: int = 200):
    _viewer(request)
    context = {
        "section": section,
        "sections": [(key, label) for key, label, _ in visible_sections(request.user)],
        "can_change": request.user.is_admin,
        **context,
    }
    # Other apps' settings sections pass their own template path ("calendars/list.html").
    name = template if "/" in template else f"web/settings/{template}"
    return render(request, name, context, status=status)


def _back(section: str, *args) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse(f"settings:{section}", args=args))


def _errors_to(form, exc: ValidationError, field_map: dict | None = None) -> None:
    add_service_errors(form, exc, field_map)


@ui_view
def index(request):
    _viewer(request)
    cards = [
        (reverse(f"settings:{key}"), label, text)
        for key, label, text in visible_sections(request.user)
    ]
    return _page(request, "", "index.html", {"cards": cards})


# ----- users ----------------------------------------------------------------------------------


def _user_rows(request):
    users = users_for(request.user).order_by("-is_active", "username")
    return list(users)


@ui_view
def users(request, form=None, status=200):
    form = form or (UserCreateForm(user=request.user) if request.user.is_admin else None)
    context = {"users": _user_rows(request), "form": form}
    return _page(request, "users", "users.html", context, status)


@ui_view
@require_POST
def user_create_view(request):
    require_settings_admin(request.user)
    form = UserCreateForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            created = user_create(**form.service_kwargs())
        except ValidationError as exc:
            # Password rules come without a field: they belong to the password.
            _errors_to(form, exc, {"__all__": "password"})
        else:
            messages.success(request, f"User {created.username} created.")
            return _back("users")
    return users(request, form=form, status=422)


def _user(request, pk: int):
    found = users_for(request.user).filter(pk=pk).first()
    if found is None:
        raise RecordNotFound("user")
    return found


@ui_view
def user_deactivate_view(request, pk: int):
    """GET: the confirmation; POST: deactivate (sessions end, tokens are revoked)."""
    require_settings_admin(request.user)
    target = _user(request, pk)
    error = ""
    if target.pk == request.user.pk:
        error = "You cannot deactivate yourself."
    elif request.method == "POST":
        user_deactivate(user=target)
        messages.success(
            request,
            f"{target.get_full_name() or target.username} deactivated: signed out everywhere, "
            "API tokens revoked.",
        )
        return _back("users")
    context = {"target": target, "error": error}
    return _page(request, "users", "user_deactivate.html", context, 422 if error else 200)


@ui_view
@require_POST
def user_reactivate_view(request, pk: int):
    require_settings_admin(request.user)
    target = _user(request, pk)
    user_reactivate(user=target)
    messages.success(request, f"{target.get_full_name() or target.username} can sign in again.")
    return _back("users")


# ----- teams ----------------------------------------------------------------------------------


def _teams(request):
    return list(teams_for(request.user).annotate(member_count=Count("members")).order_by("name"))


@ui_view
def teams(request, form=None, status=200):
    form = form or (TeamForm(user=request.user) if request.user.is_admin else None)
    return _page(request, "teams", "teams.html", {"teams": _teams(request), "form": form}, status)


@ui_view
@require_POST
def team_create_view(request):
    require_settings_admin(request.user)
    form = TeamForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            team = team_create(name=data["name"], manager=data["manager"], parent=data["parent"])
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(request, f"Team {team.name} created.")
            return _back("teams")
    return teams(request, form=form, status=422)


@ui_view
def team_edit(request, pk: int):
    _viewer(request)
    team = teams_for(request.user).filter(pk=pk).first()
    if team is None:
        raise RecordNotFound("team")
    if request.method == "POST":
        require_settings_admin(request.user)
    form = TeamForm(request.POST or None, user=request.user, team=team)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            team_update(
                team=team,
                actor=request.user,
                name=data["name"],
                manager=data["manager"],
                parent=data["parent"],
            )
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(request, f"Team {team.name} saved.")
            return _back("teams")
    members = users_for(request.user).filter(team=team).order_by("username")
    context = {"team": team, "form": form, "members": list(members)}
    status = 422 if request.method == "POST" else 200
    return _page(request, "teams", "team_edit.html", context, status)


# ----- roles ----------------------------------------------------------------------------------


def _role_row(user, error: str = "") -> dict:
    return {"person": user, "error": error}


@ui_view
def roles(request):
    context = {
        "roles": [(value, label, ROLE_HELP[value]) for value, label in Role.choices],
        "rows": [_role_row(u) for u in users_for(request.user).filter(is_active=True)],
        "role_choices": Role.choices,
        "teams": list(teams_for(request.user).order_by("name")),
    }
    return _page(request, "roles", "roles.html", context)


@ui_view
@require_POST
def role_set(request, pk: int):
    """Save one person's role and team (in place with htmx)."""
    require_settings_admin(request.user)
    target = _user(request, pk)
    form = RoleForm(request.POST, user=request.user)
    error = ""
    if form.is_valid():
        try:
            changed = user_set_role(user=target, role=form.cleaned_data["role"], actor=request.user)
            team = form.cleaned_data["team"]
            moved = team != target.team
            if moved:
                user_set_team(user=target, team=team, actor=request.user)
            if changed or moved:
                name = target.get_full_name() or target.username
                where = team.name if team else "no team"
                messages.success(request, f"{name}: {target.get_role_display()}, {where}.")
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = " ".join(e for errors in form.errors.values() for e in errors)
    if is_htmx(request):
        target.refresh_from_db()
        context = {
            "row": _role_row(target, error),
            "role_choices": Role.choices,
            "teams": list(teams_for(request.user).order_by("name")),
            "can_change": True,
        }
        return render_fragment(
            request, "web/settings/_role_row.html", context, status=422 if error else 200
        )
    if error:
        messages.error(request, error)
    return _back("roles")


# ----- sharing (organisation-wide defaults) -----------------------------------------------------


@ui_view
def sharing(request):
    stored = dict(OrgDefault.objects.values_list("object_type", "access"))
    rows = [
        {"object_type": value, "label": label, "access": stored.get(value, Access.PRIVATE)}
        for value, label in ObjectType.choices
    ]
    context = {
        "rows": rows,
        "access_choices": Access.choices,
        "levels": [(value, label, ACCESS_HELP[value]) for value, label in Access.choices],
    }
    return _page(request, "sharing", "sharing.html", context)


@ui_view
@require_POST
def org_default_set_view(request, object_type: str):
    require_settings_admin(request.user)
    form = OrgDefaultForm(request.POST)
    if object_type not in ObjectType.values:
        raise RecordNotFound("object type")
    if form.is_valid():
        org_default_set(
            object_type=object_type, access=form.cleaned_data["access"], actor=request.user
        )
        label = ObjectType(object_type).label
        messages.success(
            request, f"{label} records: {Access(form.cleaned_data['access']).label.lower()}."
        )
    else:
        messages.error(request, "Choose one of the access levels.")
    return _back("sharing")


# ----- pipelines and stages ---------------------------------------------------------------------


def _pipeline(pk: int):
    return sales_selectors.pipeline_get(pk=pk)


@ui_view
def pipelines(request, form=None, status=200):
    form = form or (PipelineForm() if request.user.is_admin else None)
    rows = [
        (p, sales_selectors.pipeline_is_usable(p), reverse("settings:pipeline", args=[p.pk]))
        for p in sales_selectors.pipeline_list()
    ]
    return _page(request, "pipelines", "pipelines.html", {"pipelines": rows, "form": form}, status)


@ui_view
@require_POST
def pipeline_create_view(request):
    require_settings_admin(request.user)
    form = PipelineForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            pipeline = sales_services.pipeline_create(
                actor=request.user,
                name=data["name"],
                is_default=data["is_default"],
                stages=STANDARD_STAGES if data["standard_stages"] else [],
            )
        except ValidationError as exc:
            _errors_to(form, exc)
        except Conflict as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Pipeline {pipeline.name} created.")
            return _back("pipeline", pipeline.pk)
    return pipelines(request, form=form, status=422)


def _pipeline_page(request, pipeline, *, rename=None, stage_form=None, error="", status=200):
    stages = list(pipeline.stages.all())
    context = {
        "pipeline": pipeline,
        "usable": sales_selectors.pipeline_is_usable(pipeline),
        "stages": stages,
        "rename_form": rename
        or PipelineRenameForm(initial={"name": pipeline.name, "is_default": pipeline.is_default}),
        "stage_form": stage_form or StageForm(),
        "kind_choices": StageForm.base_fields["kind"].choices,
        "error": error,
    }
    return _page(request, "pipelines", "pipeline.html", context, status)


@ui_view
def pipeline(request, pk: int):
    return _pipeline_page(request, _pipeline(pk))


@ui_view
@require_POST
def pipeline_update_view(request, pk: int):
    require_settings_admin(request.user)
    found = _pipeline(pk)
    form = PipelineRenameForm(request.POST)
    if form.is_valid():
        try:
            sales_services.pipeline_update(
                pipeline=found, actor=request.user, fields=form.cleaned_data
            )
        except ValidationError as exc:
            _errors_to(form, exc)
        except Conflict as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Pipeline {found.name} saved.")
            return _back("pipeline", pk)
    return _pipeline_page(request, _pipeline(pk), rename=form, status=422)


@ui_view
@require_POST
def pipeline_delete_view(request, pk: int):
    require_settings_admin(request.user)
    found = _pipeline(pk)
    try:
        sales_services.pipeline_delete(pipeline=found, actor=request.user)
    except Conflict as exc:
        messages.error(request, str(exc))
        return _back("pipeline", pk)
    messages.success(request, f"Pipeline {found.name} deleted.")
    return _back("pipelines")


@ui_view
@require_POST
def stage_create_view(request, pk: int):
    require_settings_admin(request.user)
    found = _pipeline(pk)
    form = StageForm(request.POST)
    if form.is_valid():
        try:
            stage = sales_services.stage_create(
                pipeline=found, actor=request.user, fields=form.cleaned_data
            )
        except ValidationError as exc:
            _errors_to(form, exc)
        except Conflict as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Stage {stage.name} added.")
            return _back("pipeline", pk)
    return _pipeline_page(request, _pipeline(pk), stage_form=form, status=422)


def _stage(pk: int, stage_id: int):
    return sales_selectors.stage_get(pipeline=_pipeline(pk), pk=stage_id)


@ui_view
@require_POST
def stage_update_view(request, pk: int, stage_id: int):
    require_settings_admin(request.user)
    stage = _stage(pk, stage_id)
    form = StageForm(request.POST)
    error = ""
    if form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if v is not None}
        try:
            sales_services.stage_update(stage=stage, actor=request.user, fields=fields)
        except (ValidationError, Conflict) as exc:
            error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
    else:
        error = " ".join(e for errors in form.errors.values() for e in errors)
    if error:
        return _pipeline_page(request, _pipeline(pk), error=f"{stage.name}: {error}", status=422)
    messages.success(request, f"Stage {stage.name} saved.")
    return _back("pipeline", pk)


@ui_view
@require_POST
def stage_move_view(request, pk: int, stage_id: int):
    require_settings_admin(request.user)
    stage = _stage(pk, stage_id)
    offset = -1 if request.POST.get("direction") == "up" else 1
    stage_move(stage=stage, offset=offset, actor=request.user)
    return HttpResponseRedirect(reverse("settings:pipeline", args=[pk]) + f"#stage-{stage_id}")


@ui_view
@require_POST
def stage_delete_view(request, pk: int, stage_id: int):
    require_settings_admin(request.user)
    stage = _stage(pk, stage_id)
    try:
        sales_services.stage_delete(stage=stage, actor=request.user)
    except Conflict as exc:
        messages.error(request, f"{stage.name} stays: {exc}")
    else:
        messages.success(request, f"Stage {stage.name} deleted.")
    return _back("pipeline", pk)


# ----- custom fields ------------------------------------------------------------------------------


@ui_view
def custom_fields(request, form=None, status=200):
    form = form or (CustomFieldForm() if request.user.is_admin else None)
    # Custom field definitions are configuration every user's forms read: no visibility rule.
    definitions = CustomFieldDefinition.objects.order_by("object_type", "position", "id")
    groups: dict[str, list] = {value: [] for value in ObjectType.values}
    for definition in definitions:
        groups.setdefault(definition.object_type, []).append(definition)
    context = {
        "groups": [(ObjectType(k).label, groups[k]) for k in ObjectType.values],
        "form": form,
        "total": sum(len(v) for v in groups.values()),
    }
    return _page(request, "custom_fields", "custom_fields.html", context, status)


@ui_view
@require_POST
def custom_field_create(request):
    require_settings_admin(request.user)
    form = CustomFieldForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            definition = custom_field_define(
                object_type=data["object_type"],
                key=data["key"],
                label=data["label"].strip(),
                field_type=data["field_type"],
                choices=data["choices"],
                required=data["required"],
                position=data["position"] or 0,
            )
        except ValidationError as exc:
            _errors_to(form, exc)
        else:
            messages.success(
                request,
                f"Custom field {definition.label} added to "
                f"{ObjectType(definition.object_type).label.lower()}s.",
            )
            return _back("custom_fields")
    return custom_fields(request, form=form, status=422)


@ui_view
@require_POST
def custom_field_delete_view(request, pk: int):
    require_settings_admin(request.user)
    definition = CustomFieldDefinition.objects.filter(pk=pk).first()
    if definition is None:
        raise RecordNotFound("custom field")
    custom_field_delete(definition=definition, actor=request.user)
    messages.success(request, f"Custom field {definition.label} deleted.")
    return _back("custom_fields")
