"""Sales reads: who sees which opportunities, history order, default prices."""

from decimal import Decimal

import pytest

from rapport.records.exceptions import RecordNotFound
from rapport.records.models import Access, ObjectType, OrgDefault
from rapport.sales.selectors import (
    default_unit_price,
    line_items_of,
    opportunities_visible_to,
    opportunity_get_for_user,
    stage_history,
)
from rapport.sales.services import (
    line_item_add,
    opportunity_delete,
    opportunity_move_stage,
    price_book_create,
    price_book_entry_set,
    price_book_update,
)

pytestmark = pytest.mark.django_db


def ids(qs):
    return set(qs.values_list("pk", flat=True))


def test_private_opportunities_are_seen_by_owner_manager_and_admin(personas, make_opportunity):
    opp = make_opportunity()
    for user in (personas.owner, personas.manager, personas.admin):
        assert ids(opportunities_visible_to(user)) == {opp.pk}
        assert opportunity_get_for_user(pk=opp.pk, user=user) == opp
    for user in (personas.teammate, personas.outsider, personas.reader, personas.deactivated):
        assert ids(opportunities_visible_to(user)) == set()
        with pytest.raises(RecordNotFound):
            opportunity_get_for_user(pk=opp.pk, user=user)


def test_public_read_default_shows_everyone_every_opportunity(personas, make_opportunity):
    opp = make_opportunity()
    OrgDefault.objects.create(object_type=ObjectType.OPPORTUNITY, access=Access.PUBLIC_READ)
    assert ids(opportunities_visible_to(personas.outsider)) == {opp.pk}


def test_deleted_opportunities_only_in_the_trash_scope(personas, make_opportunity):
    opp = make_opportunity()
    opportunity_delete(opportunity=opp, actor=personas.owner)
    assert ids(opportunities_visible_to(personas.owner)) == set()
    assert ids(opportunities_visible_to(personas.owner, scope="deleted")) == {opp.pk}
    assert opportunity_get_for_user(pk=opp.pk, user=personas.owner, scope="all") == opp


def test_get_for_user_treats_huge_ids_as_missing(personas):
    with pytest.raises(RecordNotFound):
        opportunity_get_for_user(pk=2**70, user=personas.owner)


def test_stage_history_is_oldest_first(personas, stages, make_opportunity):
    opp = make_opportunity()
    for name in ("Proposal", "Qualification"):
        opportunity_move_stage(opportunity=opp, stage=stages[name], actor=personas.owner)
    assert [c.to_stage.name for c in stage_history(opp)] == [
        "Prospecting",
        "Proposal",
        "Qualification",
    ]


def test_default_unit_price_needs_an_active_default_book(personas, make_product):
    product = make_product(unit_price=Decimal("50"))
    book = price_book_create(actor=personas.manager, fields={"name": "Main", "is_default": True})
    price_book_entry_set(
        price_book=book, product=product, unit_price=Decimal("45"), actor=personas.manager
    )
    assert default_unit_price(product) == Decimal("45")
    price_book_update(price_book=book, actor=personas.manager, fields={"is_active": False})
    assert default_unit_price(product) == Decimal("50")


def test_line_items_keep_their_order(personas, make_opportunity, make_product):
    opp = make_opportunity()
    first, second = make_product(), make_product()
    line_item_add(opportunity=opp, actor=personas.owner, product=first)
    line_item_add(opportunity=opp, actor=personas.owner, product=second)
    assert [i.product for i in line_items_of(opp)] == [first, second]
    assert [i.position for i in line_items_of(opp)] == [1, 2]
