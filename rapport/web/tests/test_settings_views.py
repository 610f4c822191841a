"""Settings pages: administrators change, managers read, everyone else gets 403; users,
teams, roles, organisation-wide defaults, pipelines and stages, custom fields."""

import pytest
from django.contrib.sessions.models import Session

from rapport.accounts.services import account_create
from rapport.identity.models import Role, Team, User
from rapport.identity.services import team_create
from rapport.records.custom_fields import custom_field_define
from rapport.records.models import CustomFieldDefinition, OrgDefault
from rapport.sales.models import Pipeline, Stage
from rapport.sales.services import opportunity_create
from rapport.web.testing import HTMX, count_queries, field_error, text_of, ui_client

pytestmark = pytest.mark.django_db

PAGES = [
    "/settings/",
    "/settings/users/",
    "/settings/teams/",
    "/settings/roles/",
    "/settings/sharing/",
    "/settings/pipelines/",
    "/settings/custom-fields/",
]


# ----- who may do what ----------------------------------------------------------------


def test_admin_and_manager_see_every_settings_page_others_get_403(personas):
    for url in PAGES:
        assert ui_client(personas.admin).get(url).status_code == 200, url
        assert ui_client(personas.manager).get(url).status_code == 200, url
        assert ui_client(personas.owner).get(url).status_code == 403, url
        assert ui_client(personas.reader).get(url).status_code == 403, url
        assert ui_client().get(url).status_code == 302, url


def test_manager_reads_without_forms_and_gets_403_on_every_write(personas):
    team = personas.team_b
    pipeline = Pipeline.objects.get(name="Sales")
    stage = pipeline.stages.first()
    client = ui_client(personas.manager)
    page = text_of(client.get("/settings/users/"))
    assert "Add a user" not in page and "only administrators change them" in page
    writes = [
        ("/settings/users/new", {"username": "sneaky", "role": "admin"}),
        (f"/settings/users/{personas.owner.pk}/deactivate", {}),
        (f"/settings/users/{personas.deactivated.pk}/reactivate", {}),
        ("/settings/teams/new", {"name": "Mine"}),
        (f"/settings/teams/{team.pk}/", {"name": "Renamed"}),
        (f"/settings/roles/{personas.manager.pk}", {"role": "admin"}),
        ("/settings/sharing/account", {"access": "public_read_write"}),
        ("/settings/pipelines/new", {"name": "Shadow"}),
        (f"/settings/pipelines/{pipeline.pk}/edit", {"name": "X"}),
        (f"/settings/pipelines/{pipeline.pk}/stages", {"name": "X", "kind": "open"}),
        (f"/settings/pipelines/{pipeline.pk}/stages/{stage.pk}/move", {"direction": "down"}),
        (f"/settings/pipelines/{pipeline.pk}/stages/{stage.pk}/delete", {}),
        ("/settings/custom-fields/new", {"object_type": "account", "key": "x", "label": "X"}),
    ]
    for url, data in writes:
        assert client.post(url, data).status_code == 403, url
    personas.manager.refresh_from_db()
    assert personas.manager.role == Role.MANAGER
    assert not User.objects.filter(username="sneaky").exists()
    assert not OrgDefault.objects.exists()
    assert not CustomFieldDefinition.objects.exists()
    assert Team.objects.get(pk=team.pk).name == "Team B"


# ----- users ----------------------------------------------------------------------------


def test_admin_creates_a_user_in_a_team(personas):
    r = ui_client(personas.admin).post(
        "/settings/users/new",
        {
            "username": "nina",
            "first_name": "Nina",
            "last_name": "New",
            "email": "nina@example.com",
            "role": "sales_rep",
            "team": personas.team_a.pk,
        },
    )
    assert r.status_code == 302
    nina = User.objects.get(username="nina")
    assert (nina.team, nina.role, nina.has_usable_password()) == (
        personas.team_a,
        "sales_rep",
        False,
    )


def test_user_form_errors_are_next_to_the_field(personas):
    client = ui_client(personas.admin)
    r = client.post("/settings/users/new", {"username": "owner", "role": "sales_rep"})
    assert r.status_code == 422
    assert field_error(r, "This username is taken")
    r = client.post(
        "/settings/users/new",
        {"username": "bad name!", "role": "sales_rep", "email": "nope"},
    )
    assert field_error(r, "Letters, digits")
    assert field_error(r, "Enter a valid email address")
    r = client.post(
        "/settings/users/new", {"username": "weak", "role": "sales_rep", "password": "123"}
    )
    assert r.status_code == 422
    assert field_error(r, "This password is too short")
    assert not User.objects.filter(username__in=["weak", "bad name!"]).exists()


def test_deactivate_asks_first_then_signs_the_user_out(personas):
    owner_client = ui_client(personas.owner)
    assert owner_client.get("/").status_code == 200
    client = ui_client(personas.admin)
    page = text_of(client.get(f"/settings/users/{personas.owner.pk}/deactivate"))
    assert "signed out everywhere" in page and "Yes, deactivate" in page
    personas.owner.refresh_from_db()
    assert personas.owner.is_active  # asking changes nothing
    r = client.post(f"/settings/users/{personas.owner.pk}/deactivate", follow=True)
    assert "deactivated" in text_of(r)
    personas.owner.refresh_from_db()
    assert not personas.owner.is_active
    assert owner_client.get("/").status_code == 302  # the open session is gone
    client.post(f"/settings/users/{personas.owner.pk}/reactivate")
    personas.owner.refresh_from_db()
    assert personas.owner.is_active


def test_admin_cannot_deactivate_themselves(personas):
    client = ui_client(personas.admin)
    r = client.post(f"/settings/users/{personas.admin.pk}/deactivate")
    assert r.status_code == 422
    assert "You cannot deactivate yourself" in text_of(r)
    personas.admin.refresh_from_db()
    assert personas.admin.is_active
    assert Session.objects.exists()


# ----- teams ----------------------------------------------------------------------------


def test_admin_creates_a_team_with_manager_and_parent(personas):
    r = ui_client(personas.admin).post(
        "/settings/teams/new",
        {"name": "Team A1", "manager": personas.teammate.pk, "parent": personas.team_a.pk},
    )
    assert r.status_code == 302
    team = Team.objects.get(name="Team A1")
    assert (team.manager, team.parent) == (personas.teammate, personas.team_a)
    page = text_of(ui_client(personas.admin).get("/settings/teams/"))
    assert "Team A1" in page


def test_team_names_are_unique_and_teams_do_not_nest_in_themselves(personas):
    client = ui_client(personas.admin)
    r = client.post("/settings/teams/new", {"name": "team a"})
    assert r.status_code == 422
    assert field_error(r, "A team with this name exists")
    child = team_create(name="Child", parent=personas.team_a)
    r = client.post(
        f"/settings/teams/{personas.team_a.pk}/", {"name": "Team A", "parent": child.pk}
    )
    assert r.status_code == 422
    assert field_error(r, "A team cannot sit below itself")
    r = client.post(
        f"/settings/teams/{personas.team_b.pk}/",
        {"name": "Team Bee", "manager": personas.outsider.pk, "parent": personas.team_a.pk},
    )
    assert r.status_code == 302
    team_b = Team.objects.get(pk=personas.team_b.pk)
    assert (team_b.name, team_b.manager, team_b.parent) == (
        "Team Bee",
        personas.outsider,
        personas.team_a,
    )


# ----- roles ----------------------------------------------------------------------------


def test_roles_page_explains_each_role(personas):
    page = text_of(ui_client(personas.manager).get("/settings/roles/"))
    for label in ("Administrator", "Manager", "Sales rep", "Read-only"):
        assert label in page
    assert "manages products and price books" in page


def test_admin_changes_a_role_and_team_in_place(personas):
    client = ui_client(personas.admin)
    r = client.post(
        f"/settings/roles/{personas.owner.pk}",
        {"role": "manager", "team": personas.team_b.pk},
        headers=HTMX,
    )
    assert r.status_code == 200
    body = text_of(r)
    assert f'id="role-{personas.owner.pk}"' in body and "<html" not in body
    assert "Manager, Team B" in body  # the toast
    personas.owner.refresh_from_db()
    assert (personas.owner.role, personas.owner.team) == ("manager", personas.team_b)
    client.post(f"/settings/roles/{personas.owner.pk}", {"role": "admin", "team": ""})
    personas.owner.refresh_from_db()
    assert personas.owner.is_admin and personas.owner.team is None


def test_an_admin_keeps_their_own_role_and_the_last_admin_stays(personas):
    client = ui_client(personas.admin)
    r = client.post(f"/settings/roles/{personas.admin.pk}", {"role": "sales_rep"}, headers=HTMX)
    assert r.status_code == 422
    assert "You cannot change your own role" in text_of(r)
    personas.admin.refresh_from_db()
    assert personas.admin.is_admin


def test_demoted_admin_loses_admin_rights(personas):
    client = ui_client(personas.admin)
    client.post(f"/settings/roles/{personas.owner.pk}", {"role": "admin"})
    client.post(f"/settings/roles/{personas.owner.pk}", {"role": "sales_rep"})
    owner = User.objects.get(pk=personas.owner.pk)
    assert not owner.is_admin and not owner.is_superuser
    assert ui_client(owner).get("/settings/").status_code == 403


# ----- sharing --------------------------------------------------------------------------


def test_org_default_changes_who_sees_records(personas):
    account = account_create(actor=personas.owner, fields={"name": "Now public"})
    outsider = ui_client(personas.outsider)
    assert outsider.get(f"/accounts/{account.pk}/").status_code == 404
    r = ui_client(personas.admin).post(
        "/settings/sharing/account", {"access": "public_read"}, follow=True
    )
    assert "Account records: public read-only" in text_of(r)
    assert OrgDefault.objects.get(object_type="account").access == "public_read"
    assert outsider.get(f"/accounts/{account.pk}/").status_code == 200
    assert ui_client(personas.admin).post("/settings/sharing/planet", {}).status_code == 404
    r = ui_client(personas.admin).post("/settings/sharing/lead", {"access": "all"}, follow=True)
    assert "Choose one of the access levels" in text_of(r)


# ----- pipelines and stages ---------------------------------------------------------------


def test_admin_creates_a_pipeline_with_the_usual_stages(personas):
    r = ui_client(personas.admin).post(
        "/settings/pipelines/new", {"name": "Renewals", "standard_stages": "on"}
    )
    pipeline = Pipeline.objects.get(name="Renewals")
    assert r["Location"] == f"/settings/pipelines/{pipeline.pk}/"
    assert [s.name for s in pipeline.stages.all()] == [
        "Prospecting",
        "Qualified",
        "Proposal",
        "Negotiation",
        "Won",
        "Lost",
    ]
    r = ui_client(personas.admin).post("/settings/pipelines/new", {"name": "Renewals"})
    assert r.status_code == 422
    assert field_error(r, "A pipeline named")


def test_stages_are_added_edited_reordered_and_deleted(personas):
    client = ui_client(personas.admin)
    client.post("/settings/pipelines/new", {"name": "Partners"})
    pipeline = Pipeline.objects.get(name="Partners")
    base = f"/settings/pipelines/{pipeline.pk}/stages"
    for name, kind in (("Intro", "open"), ("Signed", "won"), ("Dropped", "lost")):
        assert client.post(base, {"name": name, "kind": kind}).status_code == 302
    r = client.post(base, {"name": "Intro", "kind": "open"})
    assert r.status_code == 422 and field_error(r, "A stage named")
    r = client.post(base, {"name": "Odd", "kind": "open", "probability": "140"})
    assert field_error(r, "less than or equal to 100")
    intro, signed, dropped = pipeline.stages.all()
    client.post(f"{base}/{dropped.pk}/move", {"direction": "up"})
    assert [s.name for s in Stage.objects.filter(pipeline=pipeline)] == [
        "Intro",
        "Dropped",
        "Signed",
    ]
    client.post(
        f"{base}/{intro.pk}/edit", {"name": "Introduction", "kind": "open", "probability": "20"}
    )
    intro.refresh_from_db()
    assert (intro.name, intro.probability) == ("Introduction", 20)
    r = client.post(f"{base}/{signed.pk}/delete", follow=True)
    assert "Signed stays" in text_of(r)  # the pipeline must keep a won stage
    assert Stage.objects.filter(pk=signed.pk).exists()
    page = text_of(client.get(f"/settings/pipelines/{pipeline.pk}/"))
    assert page.index("Introduction") < page.index("Dropped") < page.index("Signed")


def test_a_stage_in_use_keeps_its_kind_and_the_page_says_why(personas):
    pipeline = Pipeline.objects.get(name="Sales")
    opportunity_create(actor=personas.owner, fields={"name": "Deal"})
    stage = Pipeline.objects.get(pk=pipeline.pk).stages.order_by("position").first()
    r = ui_client(personas.admin).post(
        f"/settings/pipelines/{pipeline.pk}/stages/{stage.pk}/edit",
        {"name": stage.name, "kind": "lost"},
    )
    assert r.status_code == 422
    assert "its kind cannot change" in text_of(r)


def test_the_default_pipeline_cannot_be_deleted(personas):
    pipeline = Pipeline.objects.get(name="Sales")
    r = ui_client(personas.admin).post(f"/settings/pipelines/{pipeline.pk}/delete", follow=True)
    assert "default pipeline cannot be deleted" in text_of(r)
    assert Pipeline.objects.filter(pk=pipeline.pk).exists()


# ----- custom fields ------------------------------------------------------------------------


def test_admin_adds_a_custom_field_and_the_account_form_shows_it(personas):
    client = ui_client(personas.admin)
    r = client.post(
        "/settings/custom-fields/new",
        {
            "object_type": "account",
            "label": "Tier",
            "key": "tier",
            "field_type": "choice",
            "choices": "Gold\nSilver\n\nGold",
            "position": "1",
        },
    )
    assert r.status_code == 302
    definition = CustomFieldDefinition.objects.get()
    assert definition.choices == ["Gold", "Silver"]
    form = text_of(ui_client(personas.owner).get("/accounts/new"))
    assert 'name="cf_tier"' in form and ">Silver</option>" in form


def test_custom_field_errors_are_next_to_the_field(personas):
    custom_field_define(object_type="contact", key="tier", label="Tier", field_type="text")
    client = ui_client(personas.admin)
    r = client.post(
        "/settings/custom-fields/new",
        {"object_type": "contact", "label": "Tier", "key": "tier", "field_type": "text"},
    )
    assert r.status_code == 422
    assert field_error(r, "This key is already defined")
    r = client.post(
        "/settings/custom-fields/new",
        {"object_type": "lead", "label": "Size", "key": "Size!", "field_type": "choice"},
    )
    assert field_error(r, "Lower-case letters")
    r = client.post(
        "/settings/custom-fields/new",
        {"object_type": "lead", "label": "Size", "key": "size", "field_type": "choice"},
    )
    assert field_error(r, "A choice field needs choices")
    assert CustomFieldDefinition.objects.count() == 1


def test_custom_field_delete(personas):
    definition = custom_field_define(
        object_type="account", key="tier", label="Tier", field_type="text"
    )
    r = ui_client(personas.admin).post(
        f"/settings/custom-fields/{definition.pk}/delete", follow=True
    )
    assert "Custom field Tier deleted" in text_of(r)
    assert not CustomFieldDefinition.objects.exists()
    assert ui_client(personas.admin).post("/settings/custom-fields/999/delete").status_code == 404


# ----- query counts and escaping --------------------------------------------------------------


def test_settings_lists_have_no_n_plus_one(personas):
    from rapport.identity.services import user_create

    client = ui_client(personas.admin)
    urls = ["/settings/users/", "/settings/teams/", "/settings/roles/", "/settings/pipelines/"]
    for url in urls:
        client.get(url)
    few = {url: count_queries(lambda u=url: client.get(u)) for url in urls}
    for i in range(15):
        team = team_create(name=f"T{i}", manager=personas.manager, parent=personas.team_a)
        user_create(username=f"u{i}", team=team)
        client.post("/settings/pipelines/new", {"name": f"P{i}", "standard_stages": "on"})
    many = {url: count_queries(lambda u=url: client.get(u)) for url in urls}
    assert few == many


def test_user_text_is_escaped_on_settings_pages(personas):
    evil = "<script>alert(1)</script>"
    team_create(name=evil)
    custom_field_define(object_type="account", key="evil", label=evil, field_type="text")
    client = ui_client(personas.admin)
    client.post("/settings/pipelines/new", {"name": evil, "standard_stages": "on"})
    for url in PAGES:
        body = text_of(client.get(url))
        assert evil not in body, url


# ----- the settings services themselves -------------------------------------------------------


def test_settings_services_refuse_non_admins(personas):
    from rapport.identity import services as identity
    from rapport.records import services as records
    from rapport.records.exceptions import PermissionDenied
    from rapport.sales import services as sales

    definition = custom_field_define(
        object_type="account", key="tier", label="Tier", field_type="text"
    )
    stage = Pipeline.objects.get(name="Sales").stages.first()
    for actor in (personas.manager, personas.owner, personas.reader):
        calls = [
            lambda a=actor: identity.user_set_role(user=personas.owner, role="admin", actor=a),
            lambda a=actor: identity.user_set_team(user=personas.owner, team=None, actor=a),
            lambda a=actor: identity.team_update(
                team=personas.team_b, actor=a, name="X", manager=None, parent=None
            ),
            lambda a=actor: records.org_default_set(
                object_type="account", access="public_read", actor=a
            ),
            lambda a=actor: records.custom_field_delete(definition=definition, actor=a),
            lambda a=actor: sales.stage_move(stage=stage, offset=1, actor=a),
        ]
        for call in calls:
            with pytest.raises(PermissionDenied):
                call()
    personas.owner.refresh_from_db()
    assert personas.owner.role == "sales_rep" and personas.owner.team == personas.team_a
    assert CustomFieldDefinition.objects.exists() and not OrgDefault.objects.exists()


def test_an_admin_demotes_another_admin_but_not_themselves(personas):
    from django.core.exceptions import ValidationError

    from rapport.identity.services import user_create, user_set_role

    second = user_create(username="second", role=Role.ADMIN)
    assert user_set_role(user=second, role="manager", actor=personas.admin) is True
    second.refresh_from_db()
    assert not second.is_admin and not second.is_staff
    with pytest.raises(ValidationError) as caught:
        user_set_role(user=personas.admin, role="manager", actor=personas.admin)
    assert caught.value.error_dict["role"][0].code == "own_role"
    assert User.objects.get(pk=personas.admin.pk).is_admin


def test_stage_move_swaps_neighbours_and_stops_at_the_ends(personas):
    from rapport.sales.services import stage_move

    pipeline = Pipeline.objects.get(name="Sales")
    before = list(pipeline.stages.all())
    assert stage_move(stage=before[0], offset=-1, actor=personas.admin) is False
    assert stage_move(stage=before[-1], offset=1, actor=personas.admin) is False
    assert stage_move(stage=before[-1], offset=-1, actor=personas.admin) is True
    after = list(Stage.objects.filter(pipeline=pipeline))
    assert [s.pk for s in after] == [s.pk for s in before[:-2]] + [before[-1].pk, before[-2].pk]
    assert [s.position for s in after] == list(range(1, len(after) + 1))
