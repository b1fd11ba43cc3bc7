"""Form tampering, actions, CSV export, autocomplete and list filters never cross a tenant boundary.

Every check runs over the admin registry (so new admins are covered): owner A
posts owner B's ids wherever an id can go, and nothing of B's changes or leaks.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib import admin
from django.urls import reverse

from backoffice.admin_site import is_superuser_only
from bookings.models import AvailabilityBlock
from properties.models import PricingRule, Property
from tests.factories import future
from tests.tenancy.test_permission_matrix import GLOBAL_MODELS, label, registered, row_of, url

pytestmark = pytest.mark.django_db


def scoped_models(world):
    for model, model_admin in registered():
        if is_superuser_only(model) or label(model) in GLOBAL_MODELS:
            continue
        mine, theirs = row_of(world, world.a, model, model_admin), row_of(world, world.b, model, model_admin)
        if mine is not None and theirs is not None:
            yield model, model_admin, mine, theirs


def test_add_forms_refuse_another_owners_property_or_booking(world, client):
    """Every add form with a property/booking field answers "Select a valid choice" for B's, and saves nothing."""
    client.force_login(world.a.owner)
    tried = []
    for model, _model_admin, _mine, _theirs in scoped_models(world):
        response = client.get(url(model, "add"))
        if response.status_code != 200:
            continue
        form = response.context["adminform"].form
        for name, value in (("property", world.b.prop.pk), ("booking", world.b.booking.pk)):
            if name not in form.fields:
                continue
            before = model._default_manager.count()
            response = client.post(url(model, "add"), {name: value})
            assert response.status_code == 200, (label(model), name)
            errors = response.context["adminform"].form.errors
            assert "Select a valid choice" in str(errors.get(name)), (label(model), name, errors)
            assert model._default_manager.count() == before
            tried.append(f"{label(model)}.{name}")
    assert {"properties.pricingrule.property", "bookings.availabilityblock.property",
            "properties.dateoverride.property"} <= set(tried)


def test_a_complete_add_form_with_another_owners_property_saves_nothing(world, client):
    client.force_login(world.a.owner)
    response = client.post(url(PricingRule, "add"), {
        "property": world.b.prop.pk, "name": "Sneaky", "kind": "weekend", "adjustment": "percent", "value": "50",
        "priority": "0", "active": "on", "weekend_days": ["4", "5"],
    })
    assert response.status_code == 200
    assert not PricingRule.objects.filter(name="Sneaky").exists()
    # staff: A's other (unassigned) property is not a choice for a block either
    client.force_login(world.staff)
    before = AvailabilityBlock.objects.count()
    response = client.post(url(AvailabilityBlock, "add"), {
        "property": world.a_other.pk, "start_date": future(60).isoformat(), "end_date": future(62).isoformat(),
        "reason": "maintenance", "note": "x"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert AvailabilityBlock.objects.count() == before


def test_change_form_cannot_move_a_row_to_another_owners_property(world, client):
    rule = world.a.rows["properties.pricingrule"]
    client.force_login(world.a.owner)
    response = client.post(url(PricingRule, "change", rule.pk), {
        "property": world.b.prop.pk, "name": rule.name, "kind": rule.kind, "adjustment": rule.adjustment,
        "value": "10", "priority": "0", "active": "on", "weekend_days": ["4", "5"]})
    assert response.status_code == 200
    rule.refresh_from_db()
    assert rule.property == world.a.prop


def test_owner_assigns_only_their_own_staff(world, client):
    from tests.test_admin import property_form

    prop = world.a.prop
    client.force_login(world.a.owner)
    response = client.post(url(Property, "change", prop.pk), property_form(prop, staff=[world.b_staff.pk]))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert list(prop.staff.all()) == [world.staff]
    response = client.post(url(Property, "change", prop.pk), property_form(prop, staff=[world.staff.pk],
                                                                             name="Alpha Loft 2"))
    assert response.status_code == 302
    prop.refresh_from_db()
    assert prop.name == "Alpha Loft 2" and prop.owner == world.a.owner  # the owner field is not theirs to set


def test_csv_export_of_selected_ids_exports_only_own_rows(world, client):
    client.force_login(world.a.owner)
    exported = []
    for model, model_admin, mine, theirs in scoped_models(world):
        query = "?due=all" if label(model) == "bookings.turnovertask" else ""  # its list defaults to this week
        response = client.post(url(model, "changelist") + query,
                               {"action": "export_csv", "_selected_action": [mine.pk, theirs.pk]})
        if response.status_code != 200 or not response["Content-Type"].startswith("text/csv"):
            continue  # no view permission, or no export on this admin
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert len(rows) == 2, (label(model), rows)  # the header and A's row; B's id was dropped
        exported.append(label(model))
    assert {"properties.property", "properties.pricingrule", "bookings.booking", "payments.hostpaymentmethod",
            "payments.manualpayment", "guests.guest"} <= set(exported)


def test_csv_export_prints_readable_values(world, client):
    client.force_login(world.a.owner)
    rule = world.a.rows["properties.pricingrule"]
    response = client.post(url(PricingRule, "changelist"), {"action": "export_csv", "_selected_action": [rule.pk]})
    header, row = list(csv.reader(io.StringIO(response.content.decode())))
    assert row[header.index("property")] == world.a.prop.name  # the related row's name, not its id
    assert row[header.index("kind")] == rule.get_kind_display()
    assert row[header.index("active")] == "yes"


def test_delete_action_with_another_owners_ids_deletes_nothing_of_theirs(world, client):
    client.force_login(world.a.owner)
    tried = []
    for model, _model_admin, _mine, theirs in scoped_models(world):
        response = client.post(url(model, "changelist"),
                               {"action": "delete_selected", "_selected_action": [theirs.pk], "post": "yes"})
        assert model._default_manager.filter(pk=theirs.pk).exists(), label(model)
        if response.status_code in (200, 302):
            tried.append(label(model))
    assert "properties.pricingrule" in tried


def test_actions_with_another_owners_ids_change_nothing(world, client):
    from bookings.models import TurnoverTask

    task = world.b.rows["bookings.turnovertask"]
    client.force_login(world.a.owner)
    client.post(url(TurnoverTask, "changelist"), {"action": "mark_done", "_selected_action": [task.pk]})
    client.force_login(world.staff)
    client.post(url(TurnoverTask, "changelist"), {"action": "mark_done", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.status == "open" and task.done_by is None


def test_autocomplete_never_lists_another_owners_rows(world, client):
    client.force_login(world.a.owner)
    checked = []
    for model, model_admin in registered():
        for field_name in model_admin.get_autocomplete_fields(None) if hasattr(model_admin, "get_autocomplete_fields") \
                else []:
            related = model._meta.get_field(field_name).related_model
            related_admin = admin.site._registry.get(related)
            theirs = row_of(world, world.b, related, related_admin) if related_admin else None
            response = client.get(reverse("admin:autocomplete"), {
                "app_label": model._meta.app_label, "model_name": model._meta.model_name, "field_name": field_name})
            if response.status_code != 200:
                continue
            ids = {item["id"] for item in response.json()["results"]}
            assert theirs is None or str(theirs.pk) not in ids, (label(model), field_name)
            checked.append(f"{label(model)}.{field_name}")
            if related is Property:
                assert ids == {str(world.a.prop.pk), str(world.a_other.pk)}, (label(model), field_name)
    assert "properties.pricingrule.property" in checked


def test_list_filters_and_pages_never_name_another_owners_property(world, client):
    for user in (world.a.owner, world.staff):
        client.force_login(user)
        for model, _model_admin in registered():
            response = client.get(url(model, "changelist"))
            if response.status_code != 200:
                continue
            page = response.content.decode()
            assert world.b.prop.name not in page, (user.email, label(model))
            assert world.b.prop.city not in page, (user.email, label(model))  # "Bravoville": value filters too
            assert world.b.owner.email not in page, (user.email, label(model))
