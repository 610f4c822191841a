"""Settings pages (namespace "settings", under /settings/)."""

from django.urls import path

from rapport.automation import views as automation_views
from rapport.calendars import views as calendar_views
from rapport.consent import views as consent_views
from rapport.playbooks import views as playbook_views
from rapport.quotes import views as quote_views
from rapport.sales import lost_reason_views
from rapport.sla import views as sla_views
from rapport.web import settings_views as views
from rapport.webhooks import settings_views as hooks

app_name = "settings"

urlpatterns = [
    path("", views.index, name="index"),
    path("users/", views.users, name="users"),
    path("users/new", views.user_create_view, name="user_create"),
    path("users/<int:pk>/deactivate", views.user_deactivate_view, name="user_deactivate"),
    path("users/<int:pk>/reactivate", views.user_reactivate_view, name="user_reactivate"),
    path("teams/", views.teams, name="teams"),
    path("teams/new", views.team_create_view, name="team_create"),
    path("teams/<int:pk>/", views.team_edit, name="team_edit"),
    path("roles/", views.roles, name="roles"),
    path("roles/<int:pk>", views.role_set, name="role_set"),
    path("sharing/", views.sharing, name="sharing"),
    path("sharing/<slug:object_type>", views.org_default_set_view, name="org_default_set"),
    path("pipelines/", views.pipelines, name="pipelines"),
    path("pipelines/new", views.pipeline_create_view, name="pipeline_create"),
    path("pipelines/<int:pk>/", views.pipeline, name="pipeline"),
    path("pipelines/<int:pk>/edit", views.pipeline_update_view, name="pipeline_update"),
    path("pipelines/<int:pk>/delete", views.pipeline_delete_view, name="pipeline_delete"),
    path("pipelines/<int:pk>/stages", views.stage_create_view, name="stage_create"),
    path(
        "pipelines/<int:pk>/stages/<int:stage_id>/edit",
        views.stage_update_view,
        name="stage_update",
    ),
    path("pipelines/<int:pk>/stages/<int:stage_id>/move", views.stage_move_view, name="stage_move"),
    path(
        "pipelines/<int:pk>/stages/<int:stage_id>/delete",
        views.stage_delete_view,
        name="stage_delete",
    ),
    path("custom-fields/", views.custom_fields, name="custom_fields"),
    path("custom-fields/new", views.custom_field_create, name="custom_field_create"),
    path(
        "custom-fields/<int:pk>/delete", views.custom_field_delete_view, name="custom_field_delete"
    ),
    path("webhooks/", hooks.webhooks, name="webhooks"),
    path("webhooks/new", hooks.subscription_create_view, name="webhook_create"),
    path("webhooks/<int:pk>/", hooks.subscription, name="webhook"),
    path("webhooks/<int:pk>/edit", hooks.subscription_update_view, name="webhook_update"),
    path("webhooks/<int:pk>/rotate", hooks.subscription_rotate_view, name="webhook_rotate"),
    path("webhooks/<int:pk>/test", hooks.subscription_test_view, name="webhook_test"),
    path("webhooks/<int:pk>/delete", hooks.subscription_delete_view, name="webhook_delete"),
    path("webhooks/deliveries/<int:pk>/", hooks.delivery, name="webhook_delivery"),
    path(
        "webhooks/deliveries/<int:pk>/resend",
        hooks.delivery_resend_view,
        name="webhook_delivery_resend",
    ),
    path("webhooks/networks/new", hooks.network_add_view, name="webhook_network_add"),
    path(
        "webhooks/networks/<int:pk>/remove",
        hooks.network_remove_view,
        name="webhook_network_remove",
    ),
    path("inbound/", hooks.inbound_sources, name="inbound"),
    path("inbound/new", hooks.source_create_view, name="inbound_create"),
    path("inbound/<int:pk>/", hooks.source_page, name="inbound_source"),
    path("inbound/<int:pk>/edit", hooks.source_update_view, name="inbound_update"),
    path("inbound/<int:pk>/rotate", hooks.source_rotate_view, name="inbound_rotate"),
    path("inbound/<int:pk>/delete", hooks.source_delete_view, name="inbound_delete"),
    path("inbound/events/<int:pk>/", hooks.inbound_event, name="inbound_event"),
    path(
        "inbound/events/<int:pk>/assign",
        hooks.inbound_event_assign_view,
        name="inbound_event_assign",
    ),
    path("consent/", consent_views.purpose_list, name="consent"),
    path("consent/purposes/<int:pk>", consent_views.purpose_edit, name="consent_purpose_edit"),
    path("consent/suppressions", consent_views.suppression_list, name="consent_suppressions"),
    path(
        "consent/suppressions/<int:pk>/remove",
        consent_views.suppression_remove,
        name="consent_suppression_remove",
    ),
    path("calendars/", calendar_views.calendars, name="calendars"),
    path("calendars/<int:pk>/", calendar_views.calendar_edit, name="calendar_edit"),
    path("calendars/<int:pk>/delete", calendar_views.calendar_delete_view, name="calendar_delete"),
    path("sla/", sla_views.policies, name="sla"),
    path("tax-rates/", quote_views.tax_rates, name="tax_rates"),
    path("playbooks/", playbook_views.settings_playbooks, name="playbooks"),
    path("lost-reasons/", lost_reason_views.settings_lost_reasons, name="lost_reasons"),
    path("tax-rates/<int:pk>/delete", quote_views.tax_rate_delete, name="tax_rate_delete"),
    path("sla/<int:pk>/", sla_views.policy_edit, name="sla_policy_edit"),
    path("sla/<int:pk>/delete", sla_views.policy_delete_view, name="sla_policy_delete"),
    path("automation/", automation_views.rules, name="automation"),
    path("automation/new", automation_views.rule_new, name="automation_rule_new"),
    path("automation/<int:pk>/", automation_views.rule_detail, name="automation_rule"),
    path("automation/<int:pk>/edit", automation_views.rule_edit, name="automation_rule_edit"),
    path("automation/<int:pk>/delete", automation_views.rule_delete, name="automation_rule_delete"),
    path("automation/runs/<int:pk>/", automation_views.run_detail, name="automation_run"),
    path(
        "automation/runs/<int:pk>/replay", automation_views.run_replay, name="automation_run_replay"
    ),
    path(
        "automation/runs/<int:pk>/cancel", automation_views.run_cancel, name="automation_run_cancel"
    ),
]
