"""A sequence's automation rule (its steps) in the Automation settings: listed with a link to
the sequence, read-only there (no edit, no delete), and refused by the rule services and the
API, so that nobody breaks a sequence from the settings; other rules stay editable."""

import pytest
from django.test import Client
from django.urls import reverse

from rapport.automation import services as automation
from rapport.automation.models import Rule
from rapport.records.exceptions import Conflict

pytestmark = pytest.mark.django_db


def _admin_client(personas) -> Client:
    client = Client()
    client.force_login(personas.admin)
    return client


@pytest.fixture
def sequence(make_sequence):
    sequence = make_sequence(name="Welcome")
    assert sequence.rule_id is not None
    return sequence


@pytest.fixture
def plain_rule(personas):
    return automation.rule_create(
        actor=personas.admin,
        data={
            "name": "Tag new contacts",
            "object_type": "contact",
            "trigger_type": "manual",
            "actions": [{"type": "add_tag", "params": {"tag": "new"}}],
        },
    )


def test_the_list_links_a_sequence_rule_to_its_sequence(personas, sequence, plain_rule):
    page = _admin_client(personas).get(reverse("settings:automation")).content.decode()
    sequence_url = reverse("sequences:detail", args=[sequence.pk])
    assert f'href="{sequence_url}"' in page
    assert page.count("(read-only here)") == 1


def test_a_sequence_rule_is_read_only_on_its_page(personas, sequence, plain_rule):
    client = _admin_client(personas)
    page = client.get(reverse("settings:automation_rule", args=[sequence.rule_id])).content
    page = page.decode()
    assert reverse("sequences:detail", args=[sequence.pk]) in page
    assert reverse("settings:automation_rule_edit", args=[sequence.rule_id]) not in page
    assert reverse("settings:automation_rule_delete", args=[sequence.rule_id]) not in page
    # Any other rule keeps its edit link and delete form.
    other = client.get(reverse("settings:automation_rule", args=[plain_rule.pk])).content.decode()
    assert reverse("settings:automation_rule_edit", args=[plain_rule.pk]) in other
    assert reverse("settings:automation_rule_delete", args=[plain_rule.pk]) in other


def test_the_edit_form_of_a_sequence_rule_sends_back_to_the_rule(personas, sequence):
    client = _admin_client(personas)
    response = client.get(reverse("settings:automation_rule_edit", args=[sequence.rule_id]))
    assert response.status_code == 302
    assert response["Location"] == reverse("settings:automation_rule", args=[sequence.rule_id])


def test_the_services_and_the_api_refuse_to_change_or_delete_it(personas, sequence, api_as):
    rule = Rule.objects.get(pk=sequence.rule_id)
    before = (rule.version, rule.actions, rule.is_active)
    with pytest.raises(Conflict, match="the sequence “Welcome”"):
        automation.rule_update(rule=rule, actor=personas.admin, data={"is_active": False})
    with pytest.raises(Conflict):
        automation.rule_delete(rule=rule, actor=personas.admin)
    api = api_as(personas.admin)
    assert api.patch(f"/api/automation/rules/{rule.pk}", {"is_active": False}).status_code == 409
    assert api.delete(f"/api/automation/rules/{rule.pk}").status_code == 409
    response = _admin_client(personas).post(
        reverse("settings:automation_rule_delete", args=[rule.pk])
    )
    assert response.status_code in (302, 409)
    rule.refresh_from_db()
    assert (rule.version, rule.actions, rule.is_active) == before
    # The sequence itself still changes its rule.
    from rapport.sequences import services

    services.sequence_update(sequence=sequence, actor=personas.owner, fields={"name": "Welcome 2"})
    rule.refresh_from_db()
    assert rule.version == before[0] + 1
