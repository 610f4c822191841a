"""Complaints are a case category with a resolution code: the code is set on the case page
or through the API (normalised, at most 60 characters), shown on the case, and the
complaint metrics group by it."""

import pytest
from django.test import Client

from rapport.cases.models import Case
from rapport.cases.services import case_set_status
from rapport.returns import selectors

pytestmark = pytest.mark.django_db


def test_resolution_code_from_the_case_page_and_the_api(customers, personas, api_as):
    alice, bob = customers
    staff = Client()
    staff.force_login(personas.owner)
    page = staff.get(f"/cases/{alice.case.pk}/").content.decode()
    assert 'name="resolution_code"' in page and ">Complaint<" in page
    staff.post(f"/cases/{alice.case.pk}/controls", {"resolution_code": "  Partial Refund "})
    assert Case.objects.get(pk=alice.case.pk).resolution_code == "partial_refund"
    assert "partial_refund" in staff.get(f"/cases/{alice.case.pk}/").content.decode()

    api = api_as(personas.owner)
    ok = api.patch(f"/api/cases/{bob.case.pk}", {"resolution_code": "replacement"})
    assert ok.status_code == 200 and ok.json()["resolution_code"] == "replacement"
    too_long = api.patch(f"/api/cases/{bob.case.pk}", {"resolution_code": "x" * 61})
    assert too_long.status_code == 422
    assert Case.objects.get(pk=bob.case.pk).resolution_code == "replacement"
    assert (
        api_as(personas.outsider)
        .patch(f"/api/cases/{bob.case.pk}", {"resolution_code": "refund"})
        .status_code
        == 404
    )

    for case in (alice.case, bob.case):
        case_set_status(case=Case.objects.get(pk=case.pk), status="resolved", actor=personas.owner)
    codes = {
        r["resolution_code"] for r in selectors.metrics(personas.admin)["complaint_resolution"]
    }
    assert codes == {"partial_refund", "replacement"}
