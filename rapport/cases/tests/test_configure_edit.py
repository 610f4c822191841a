"""The service desk's configuration: each queue (agents and capacity), category, routing
rule (and its order) and macro has an edit page and a delete button, for admins and
managers only; what cases still use is not deleted."""

import json

import pytest
from django.test import Client

from rapport.cases import services
from rapport.cases.models import Case, CaseCategory, Macro, Queue, QueueMember, RoutingRule

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_queue_edit_members_capacity_and_delete_rules(personas, desk):
    queue = desk["queue"]
    admin = _client(personas.admin)
    url = f"/cases/configure/queues/{queue.pk}/"
    assert _client(personas.owner).get(url).status_code == 403
    page = admin.get(url)
    assert page.status_code == 200 and b"Capacity" in page.content
    response = admin.post(
        url,
        {
            "name": "Support EU",
            "assignment": "least_open",
            "is_active": "on",
            "members": [personas.teammate.pk, personas.owner.pk],
            f"capacity-{personas.teammate.pk}": "7",
            f"capacity-{personas.owner.pk}": "3",
        },
    )
    assert response.status_code == 302
    queue.refresh_from_db()
    assert (queue.name, queue.assignment) == ("Support EU", "least_open")
    assert dict(QueueMember.objects.filter(queue=queue).values_list("user_id", "capacity")) == {
        personas.teammate.pk: 7,
        personas.owner.pk: 3,
    }
    # A queue with a case is not deleted (deactivate it instead); an empty one is.
    Case.objects.create(number=1, subject="x", queue=queue)
    admin.post(f"/cases/configure/queues/{queue.pk}/delete")
    assert Queue.objects.filter(pk=queue.pk).exists()
    empty = Queue.objects.create(name="Spare")
    admin.post(f"/cases/configure/queues/{empty.pk}/delete")
    assert not Queue.objects.filter(pk=empty.pk).exists()


def test_category_edit_and_delete_only_when_unused(personas):
    admin = _client(personas.admin)
    billing = CaseCategory.objects.create(name="Billing")
    refunds = CaseCategory.objects.create(name="Refunds")
    admin.post(
        f"/cases/configure/categories/{refunds.pk}/", {"name": "Refunds", "parent": billing.pk}
    )
    refunds.refresh_from_db()
    assert refunds.parent_id == billing.pk
    admin.post(f"/cases/configure/categories/{billing.pk}/delete")  # has a sub-category
    assert CaseCategory.objects.filter(pk=billing.pk).exists()
    admin.post(f"/cases/configure/categories/{refunds.pk}/delete")
    assert not CaseCategory.objects.filter(pk=refunds.pk).exists()


def test_routing_rules_reorder_edit_and_delete(personas, desk):
    admin = _client(personas.admin)
    rules = [
        services.routing_rule_save(
            actor=personas.admin,
            fields={"name": name, "position": i, "queue": desk["queue"]},
        )
        for i, name in enumerate(["first", "second", "third"])
    ]
    admin.post(f"/cases/configure/rules/{rules[2].pk}/up")
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["first", "third", "second"]
    admin.post(f"/cases/configure/rules/{rules[0].pk}/down")
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["third", "first", "second"]
    page = admin.get("/cases/configure/").content.decode()
    assert f"/cases/configure/rules/{rules[0].pk}/" in page
    admin.post(
        f"/cases/configure/rules/{rules[1].pk}/",
        {"name": "second", "channel": "phone", "priority": "high", "queue": desk["queue"].pk},
    )
    rules[1].refresh_from_db()
    assert (rules[1].channel, rules[1].priority, rules[1].is_active) == ("phone", "high", False)
    admin.post(f"/cases/configure/rules/{rules[1].pk}/delete")
    assert RoutingRule.objects.count() == 2


def test_macro_edit_validates_and_deletes(personas):
    admin = _client(personas.admin)
    macro = Macro.objects.create(name="Thanks", body="Thanks!")
    url = f"/cases/configure/macros/{macro.pk}/"
    assert b"Thanks!" in admin.get(url).content
    admin.post(
        url,
        {
            "name": "Thanks v2",
            "body": "Thanks {{ contact.first_name }}",
            "set_fields": json.dumps({"status": "pending_customer"}),
            "is_active": "on",
        },
    )
    macro.refresh_from_db()
    assert (macro.name, macro.set_fields) == ("Thanks v2", {"status": "pending_customer"})
    admin.post(url, {"name": "Thanks v2", "body": "x", "set_fields": '{"owner": 1}'})
    macro.refresh_from_db()
    assert macro.body == "Thanks {{ contact.first_name }}"  # rejected: nothing changed
    admin.post(f"{url}delete")
    assert not Macro.objects.exists()
    assert admin.get(url).status_code == 404
