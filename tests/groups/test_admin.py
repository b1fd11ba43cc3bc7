"""The back office: a grouped booking's page shows its group and links to the other bookings the user may see; the
booking list filters on groups. A group spanning two owners never shows one owner the other's booking."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bookings import services
from bookings.services import GroupStay
from core.actor import Actor
from guests.services import GuestInput
from tests.factories import OwnerFactory, PropertyFactory, future

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(db):
    owner_a, owner_b = OwnerFactory(email="a@example.com"), OwnerFactory(email="b@example.com")
    a1, a2 = PropertyFactory(owner=owner_a, name="A one"), PropertyFactory(owner=owner_a, name="A two")
    b1 = PropertyFactory(owner=owner_b, name="B one")
    group = services.reserve_group(stays=[GroupStay(p.pk, future(30), future(33), 2) for p in (a1, a2, b1)],
                                   guest=GuestInput(name="Ana Lead", email="ana@example.com"),
                                   actor=Actor.guest("ana@example.com"))
    single = services.reserve(property_id=a1.pk, check_in=future(50), check_out=future(52), adults=1,
                              guest=GuestInput(name="Solo", email="solo@example.com"), actor=Actor.system("t"))
    bookings = {b.property_id: b for b in group.bookings.all()}
    return {"owner_a": owner_a, "owner_b": owner_b, "group": group, "single": single,
            "a1": bookings[a1.pk], "a2": bookings[a2.pk], "b1": bookings[b1.pk]}


def test_booking_page_shows_the_group_and_the_other_visible_bookings(client, setup):
    client.force_login(setup["owner_a"])
    page = client.get(reverse("admin:bookings_booking_change", args=[setup["a1"].pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert setup["group"].reference in text
    assert [b.pk for b in page.context["group_others"]] == [setup["a2"].pk]
    assert reverse("admin:bookings_booking_change", args=[setup["a2"].pk]) in text
    assert setup["b1"].reference not in text  # owner B's booking of the same group stays invisible to owner A


def test_group_filter_and_search(client, setup):
    client.force_login(setup["owner_a"])
    url = reverse("admin:bookings_booking_changelist")
    in_group = client.get(url, {"group": "yes"})
    assert {b.pk for b in in_group.context["cl"].result_list} == {setup["a1"].pk, setup["a2"].pk}
    alone = client.get(url, {"group": "no"})
    assert [b.pk for b in alone.context["cl"].result_list] == [setup["single"].pk]
    one_group = client.get(url, {"group": str(setup["group"].pk)})
    assert {b.pk for b in one_group.context["cl"].result_list} == {setup["a1"].pk, setup["a2"].pk}
    searched = client.get(url, {"q": setup["group"].reference})
    assert {b.pk for b in searched.context["cl"].result_list} == {setup["a1"].pk, setup["a2"].pk}
    assert client.get(url, {"group": "junk"}).status_code == 200


def test_owner_b_sees_only_their_booking_of_the_group(client, setup):
    client.force_login(setup["owner_b"])
    page = client.get(reverse("admin:bookings_booking_change", args=[setup["b1"].pk]))
    assert page.status_code == 200 and page.context["group_others"] == []
    assert client.get(reverse("admin:bookings_booking_change", args=[setup["a1"].pk])).status_code in (302, 403, 404)
