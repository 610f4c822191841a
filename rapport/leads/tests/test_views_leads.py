"""Lead pages: who sees and changes what, the list's filters, forms, inline edits."""

import pytest

from rapport.leads.models import Lead, LeadStatus
from rapport.leads.services import lead_convert, lead_update
from rapport.records.services import record_share
from rapport.timeline.models import TimelineEvent
from rapport.web.testing import HTMX, count_queries, csv_rows, field_error, text_of, ui_client

pytestmark = pytest.mark.django_db


# ----- access -------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(make_lead):
    lead = make_lead()
    for url in ("/leads/", f"/leads/{lead.pk}/", f"/leads/{lead.pk}/convert", "/leads/new"):
        r = ui_client().get(url)
        assert r.status_code == 302, url
        assert r["Location"].startswith("/login/?next="), url


def test_owner_and_manager_see_the_lead_and_outsider_does_not(personas, make_lead):
    make_lead(last_name="Visible", company="Seen Co")
    assert "Seen Co" in text_of(ui_client(personas.owner).get("/leads/"))
    assert "Seen Co" in text_of(ui_client(personas.manager).get("/leads/"))
    page = text_of(ui_client(personas.outsider).get("/leads/"))
    assert "Seen Co" not in page
    assert "No leads match" in page


def test_outsider_gets_404_on_every_lead_url(personas, make_lead):
    lead = make_lead()
    client = ui_client(personas.outsider)
    base = f"/leads/{lead.pk}/"
    for url in (base, base + "edit", base + "fields/company/?edit=1", base + "timeline"):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/leads/{lead.pk}/convert").status_code == 404
    for url in (base + "fields/company/", base + "composer", base + "delete"):
        assert client.post(url, {"value": "x", "version": 1}).status_code == 404, url
    assert client.post(f"/leads/{lead.pk}/convert", {"account": "new"}).status_code == 404
    lead.refresh_from_db()
    assert lead.company == "Acme"
    assert lead.status == LeadStatus.NEW


def test_reader_sees_the_page_without_edit_controls_and_cannot_change(personas, make_lead):
    lead = make_lead()
    record_share(record=lead, actor=personas.owner, user=personas.reader, access="edit")
    client = ui_client(personas.reader)
    page = text_of(client.get(f"/leads/{lead.pk}/"))
    assert f"/leads/{lead.pk}/edit" not in page
    assert f"/leads/{lead.pk}/convert" not in page
    assert client.get(f"/leads/{lead.pk}/edit").status_code == 403
    assert client.get(f"/leads/{lead.pk}/convert").status_code == 403
    assert client.post(f"/leads/{lead.pk}/convert", {"account": "new"}).status_code == 403
    r = client.post(f"/leads/{lead.pk}/fields/company/", {"value": "Hacked", "version": 1})
    assert r.status_code == 403
    lead.refresh_from_db()
    assert lead.company == "Acme"


# ----- list -----------------------------------------------------------------------------


def test_status_chips_filter_the_list(personas, make_lead):
    make_lead(last_name="Fresh", status="new")
    make_lead(last_name="Busy", status="working")
    make_lead(last_name="Dropped", status="disqualified", disqualified_reason="No budget")
    client = ui_client(personas.owner)
    page = text_of(client.get("/leads/"))
    assert 'href="?status=working"' in page
    working = text_of(client.get("/leads/?status=working"))
    assert "Busy" in working and "Fresh" not in working and "Dropped" not in working
    assert 'aria-current="true">Working</a>' in working
    both = text_of(client.get("/leads/?status=working&status=new"))
    assert "Busy" in both and "Fresh" in both and "Dropped" not in both
    assert "Status: New" in both and "Status: Working" in both  # one chip per status


def test_source_and_campaign_filters(personas, make_lead):
    make_lead(last_name="Webby", source="web", campaign="Spring")
    make_lead(last_name="Referred", source="referral", campaign="Spring")
    client = ui_client(personas.owner)
    page = text_of(client.get("/leads/?source=WEB"))
    assert "Webby" in page and "Referred" not in page
    page = text_of(client.get("/leads/?campaign=spring"))
    assert "Webby" in page and "Referred" in page
    assert "Campaign: spring" in page


def test_bad_status_filter_says_so(personas, make_lead):
    make_lead()
    page = text_of(ui_client(personas.owner).get("/leads/?status=bogus"))
    assert "Some filters are not valid" in page


def test_csv_export_has_only_visible_leads_of_the_filter(personas, make_lead):
    make_lead(last_name="Mine", status="working")
    make_lead(last_name="Other", status="new")
    make_lead(owner=personas.outsider, last_name="Hidden", status="working")
    rows = csv_rows(ui_client(personas.owner).get("/leads/export.csv?status=working"))
    assert rows[0][:3] == ["ID", "Name", "Company"]
    names = [row[1] for row in rows[1:]]
    assert names == ["Jane Mine"]
    status_col = rows[0].index("Status")
    assert rows[1][status_col] == "working"


def test_bulk_tag_skips_converted_leads_and_the_outsiders(personas, make_lead, pipeline):
    open_lead = make_lead(last_name="Open")
    converted = make_lead(last_name="Done")
    lead_convert(lead=converted, actor=personas.owner)
    hidden = make_lead(owner=personas.outsider, last_name="Hidden")
    r = ui_client(personas.owner).post(
        "/leads/bulk",
        {"action": "tag", "tag": "hot", "ids": [open_lead.pk, converted.pk, hidden.pk]},
        follow=True,
    )
    assert r.status_code == 200
    assert "1 lead tagged. 2 skipped" in text_of(r)
    assert [t.name for t in Lead.objects.get(pk=open_lead.pk).tags.all()] == ["hot"]
    assert not Lead.objects.get(pk=converted.pk).tags.exists()
    assert not Lead.objects.get(pk=hidden.pk).tags.exists()


def test_bulk_assign_and_delete(personas, make_lead):
    a = make_lead(last_name="A")
    b = make_lead(last_name="B")
    client = ui_client(personas.owner)
    r = client.post(
        "/leads/bulk", {"action": "assign", "owner_id": personas.teammate.pk, "ids": [a.pk]}
    )
    assert r.status_code == 302
    assert Lead.objects.get(pk=a.pk).owner == personas.teammate
    client.post("/leads/bulk", {"action": "delete", "ids": [b.pk]})
    assert not Lead.objects.filter(pk=b.pk).exists()
    assert "B" in text_of(client.get("/leads/trash"))


def test_saved_view_of_leads_keeps_the_status_filter(personas, make_lead):
    make_lead(last_name="Busy", status="working")
    client = ui_client(personas.owner)
    r = client.post(
        "/views/save",
        {"object_type": "lead", "name": "Working", "query": "status=working", "next": "/leads/"},
    )
    assert r.status_code == 302
    page = text_of(client.get("/leads/"))
    assert ">Working</a>" in page
    assert r["Location"].startswith("/leads/?") and "status=working" in r["Location"]


def test_lead_list_has_no_n_plus_one(personas, make_lead):
    client = ui_client(personas.owner)
    for i in range(3):
        make_lead(last_name=f"L{i}", tags=["x", f"t{i}"])
    url = "/leads/?cols=name,company,owner,team,tags,status,created"
    client.get(url)
    few = count_queries(lambda: client.get(url))
    for i in range(3, 20):
        make_lead(last_name=f"L{i}", tags=["x", f"t{i}"])
    many = count_queries(lambda: client.get(url))
    assert few == many, (few, many)


# ----- record page, forms ---------------------------------------------------------------


def test_lead_page_shows_status_facts_timeline_and_convert_button(personas, make_lead):
    lead = make_lead(email="jane@acme.example", source="event", status="working")
    page = text_of(ui_client(personas.owner).get(f"/leads/{lead.pk}/"))
    assert '<span class="status status-warning">Working</span>' in page
    assert "mailto:jane@acme.example" in page
    assert f'href="/leads/{lead.pk}/convert"' in page
    assert 'id="timeline-list"' in page
    assert 'id="composer"' in page


def test_lead_page_has_a_fixed_number_of_queries(personas, make_lead):
    from rapport.activities.services import activity_log

    lead = make_lead()
    client = ui_client(personas.owner)

    def grow(n):
        for i in range(n):
            activity_log(
                actor=personas.owner,
                kind="note",
                fields={"body": f"note {i}"},
                links={"lead_id": lead.pk},
            )

    grow(3)
    url = f"/leads/{lead.pk}/"
    client.get(url)
    few = count_queries(lambda: client.get(url))
    grow(17)
    many = count_queries(lambda: client.get(url))
    assert few == many, (few, many)


def test_create_form_shows_errors_next_to_the_fields(personas):
    r = ui_client(personas.owner).post(
        "/leads/new",
        {"last_name": "", "email": "not-an-email", "owner": personas.owner.pk, "status": "new"},
    )
    assert r.status_code == 422
    assert field_error(r, "This field is required")
    assert not Lead.objects.exists()


def test_service_error_on_email_lands_next_to_the_email(personas):
    r = ui_client(personas.owner).post(
        "/leads/new",
        {"last_name": "Doe", "email": "not-an-email", "owner": personas.owner.pk, "status": "new"},
    )
    assert r.status_code == 422
    assert 'id="id_email"' in text_of(r)
    assert '<p class="field-error">' in text_of(r)
    assert not Lead.objects.exists()


def test_disqualified_without_reason_is_refused_next_to_the_reason(personas):
    r = ui_client(personas.owner).post(
        "/leads/new",
        {"last_name": "Doe", "owner": personas.owner.pk, "status": "disqualified"},
    )
    assert r.status_code == 422
    assert field_error(r, "A disqualified lead needs a reason")
    body = text_of(r)
    reason_at = body.index('id="id_disqualified_reason"')
    error_at = body.index("A disqualified lead needs a reason")
    assert 0 < error_at - reason_at < 600  # in the reason's own field block
    assert not Lead.objects.exists()


def test_create_then_edit_a_lead(personas):
    client = ui_client(personas.owner)
    r = client.post(
        "/leads/new",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Engines Ltd",
            "phone": "+44 20 7946 0018",
            "status": "working",
            "owner": personas.owner.pk,
            "tags": "hot, event",
        },
    )
    lead = Lead.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/leads/{lead.pk}/"
    assert lead.phone == "+442079460018"
    assert sorted(t.name for t in lead.tags.all()) == ["event", "hot"]
    form = client.get(f"/leads/{lead.pk}/edit")
    assert 'value="Engines Ltd"' in text_of(form)
    r = client.post(
        f"/leads/{lead.pk}/edit",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Engines Ltd",
            "status": "disqualified",
            "disqualified_reason": "Only researching",
            "owner": personas.owner.pk,
            "version": lead.version,
        },
    )
    assert r.status_code == 302
    lead.refresh_from_db()
    assert lead.status == LeadStatus.DISQUALIFIED
    assert lead.disqualified_reason == "Only researching"


def test_edit_with_stale_version_says_someone_else_changed_it(personas, make_lead):
    lead = make_lead()
    opened_at = lead.version
    lead_update(lead=lead, actor=personas.manager, fields={"company": "Changed"})
    r = ui_client(personas.owner).post(
        f"/leads/{lead.pk}/edit",
        {"last_name": "Doe", "status": "new", "owner": personas.owner.pk, "version": opened_at},
    )
    assert r.status_code == 422
    assert "Someone else changed this record" in text_of(r)
    lead.refresh_from_db()
    assert lead.company == "Changed"


def test_inline_edit_of_the_company_saves_in_place(personas, make_lead):
    lead = make_lead()
    r = ui_client(personas.owner).post(
        f"/leads/{lead.pk}/fields/company/",
        {"value": "Initech", "version": lead.version},
        headers=HTMX,
    )
    assert r.status_code == 200
    assert 'id="field-company"' in text_of(r)
    assert r["HX-Trigger"] == "record-changed"
    assert 'id="timeline-list"' in text_of(r) and "hx-swap-oob" in text_of(r)
    lead.refresh_from_db()
    assert lead.company == "Initech"


def test_inline_status_disqualified_asks_for_the_edit_form(personas, make_lead):
    lead = make_lead()
    r = ui_client(personas.owner).post(
        f"/leads/{lead.pk}/fields/status/",
        {"value": "disqualified", "version": lead.version},
        headers=HTMX,
    )
    assert r.status_code == 422
    assert "A disqualified lead needs a reason: use Edit" in text_of(r)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW


def test_inline_edit_with_stale_version_is_refused(personas, make_lead):
    lead = make_lead()
    lead_update(lead=lead, actor=personas.manager, fields={"company": "Theirs"})
    r = ui_client(personas.owner).post(
        f"/leads/{lead.pk}/fields/company/", {"value": "Mine", "version": 1}, headers=HTMX
    )
    assert r.status_code == 409
    assert "Someone else changed this record" in text_of(r)
    lead.refresh_from_db()
    assert lead.company == "Theirs"


def test_composer_logs_a_call_on_the_lead(personas, make_lead):
    lead = make_lead()
    r = ui_client(personas.owner).post(
        f"/leads/{lead.pk}/composer",
        {"kind": "call", "subject": "Intro", "direction": "outbound"},
        headers=HTMX,
    )
    assert r.status_code == 200
    assert "Call: Intro" in text_of(r)
    assert TimelineEvent.objects.filter(lead=lead, kind="activity_logged").exists()


def test_delete_and_restore(personas, make_lead):
    lead = make_lead(last_name="Binned")
    client = ui_client(personas.owner)
    r = client.post(f"/leads/{lead.pk}/delete", follow=True)
    assert f'action="/leads/{lead.pk}/restore"' in text_of(r)
    assert not Lead.objects.filter(pk=lead.pk).exists()
    client.post(f"/leads/{lead.pk}/restore")
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_converted_lead_page_is_frozen_but_links_to_its_records(personas, make_lead, pipeline):
    lead = make_lead(company="Globex")
    result = lead_convert(lead=lead, actor=personas.owner, create_opportunity=True)
    client = ui_client(personas.owner)
    page = text_of(client.get(f"/leads/{lead.pk}/"))
    assert f'href="/accounts/{result["account"].pk}/">Globex</a>' in page
    assert f'href="/contacts/{result["contact"].pk}/"' in page
    assert f'href="/opportunities/{result["opportunity"].pk}/"' in page
    assert f"/leads/{lead.pk}/edit" not in page
    assert f"/leads/{lead.pk}/fields/company/" not in page
    r = client.get(f"/leads/{lead.pk}/edit", follow=True)
    assert "can no longer change" in text_of(r)
    r = client.post(
        f"/leads/{lead.pk}/fields/company/", {"value": "X", "version": 99}, headers=HTMX
    )
    assert r.status_code in (409, 422)
    lead.refresh_from_db()
    assert lead.company == "Globex"
