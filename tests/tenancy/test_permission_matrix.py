"""The permission matrix: every admin registered at run time × owner A, owner B, A's staff, superuser, anonymous.

For each model the admin site has (``admin.site._registry``, so models other
slices register are covered too) and each role, the changelist, add, change,
delete and history pages of owner A's row must answer as the role allows:

* anonymous: sent to the login, always;
* superuser: everything opens;
* owner A / A's staff: what their group grants (tables below), and only rows of
  the properties they own / are assigned to;
* owner B: never A's rows (object URLs answer 403 or "does not exist", the
  changelist does not list them), nor any infrastructure model.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.urls import NoReverseMatch, reverse

from backoffice.admin_site import is_superuser_only
from core.tenancy import TenantScopedAdmin

pytestmark = pytest.mark.django_db
OUR_APPS = {"core", "guests", "properties", "bookings", "payments", "channel_sync", "messaging"}

# What each role must (first string) and must not (second string) be able to do: view, add, change, delete.
# Letters in neither string are left to the admin of that model (e.g. the booking admin's owner bookings).
OWNER = {
    "properties.property": ("vacd", ""),
    "properties.propertyphoto": ("vacd", ""),
    "properties.pricingrule": ("vacd", ""),
    "properties.dateoverride": ("vacd", ""),
    "bookings.availabilityblock": ("vacd", ""),
    "bookings.turnovertask": ("vc", "ad"),
    "properties.amenity": ("v", "acd"),
    "bookings.booking": ("v", "cd"),
    "bookings.bookingevent": ("v", "acd"),
    "guests.guest": ("v", "acd"),
    "guests.user": ("vac", "d"),
    "payments.payment": ("v", "acd"),
    "payments.refund": ("v", "acd"),
    "payments.manualpayment": ("v", "acd"),
    "payments.hostpaymentmethod": ("vacd", ""),
    "channel_sync.channelconnection": ("vacd", ""),
    "channel_sync.syncrun": ("v", "acd"),  # written by the sync only
    "channel_sync.syncconflict": ("v", "acd"),  # resolved through their own pages, never edited
    "messaging.thread": ("v", "ad"),  # the change page is the thread with its reply form (tests/messaging)
    "messaging.messagetemplate": ("vacd", ""),
    "messaging.messagesettings": ("vac", "d"),
}
STAFF = {
    "properties.property": ("v", "acd"),
    "properties.propertyphoto": ("v", "acd"),
    "properties.pricingrule": ("v", "acd"),  # no pricing changes
    "properties.dateoverride": ("v", "acd"),
    "bookings.availabilityblock": ("vacd", ""),  # maintenance blocks
    "bookings.turnovertask": ("vc", "ad"),
    "properties.amenity": ("v", "acd"),
    "bookings.booking": ("v", "acd"),
    "bookings.bookingevent": ("v", "acd"),
    "guests.guest": ("v", "acd"),
    "guests.user": ("", "vacd"),
    "payments.payment": ("v", "acd"),
    "payments.refund": ("v", "acd"),
    "payments.manualpayment": ("v", "acd"),
    "payments.hostpaymentmethod": ("", "vacd"),  # no payout settings
    "channel_sync.channelconnection": ("v", "acd"),
    "channel_sync.syncrun": ("v", "acd"),
    "channel_sync.syncconflict": ("v", "acd"),
    "messaging.thread": ("v", "ad"),  # and they reply (tests/messaging)
    "messaging.messagetemplate": ("v", "acd"),  # their employer's
    "messaging.messagesettings": ("v", "acd"),
}
GLOBAL_MODELS = {"properties.amenity"}  # one list for everybody; not tenant data


def label(model) -> str:
    return model._meta.label_lower


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def registered():
    return sorted(admin.site._registry.items(), key=lambda item: label(item[0]))


def row_of(world, tenant, model, model_admin):
    """The tenant's row of ``model`` (from the world, or found through the admin's tenant path)."""
    if label(model) in tenant.rows:
        return tenant.rows[label(model)]
    if label(model) in world.shared:
        return world.shared[label(model)]
    path = model_admin.get_tenant_path() if isinstance(model_admin, TenantScopedAdmin) else None
    if path:
        lookup = {"pk": tenant.prop.pk} if path == "pk" else {f"{path}__in": [tenant.prop.pk]}
        return model._default_manager.filter(**lookup).first()
    return model._default_manager.order_by("pk").first()


def is_hidden(response, obj_url) -> bool:
    """403, 404, or Django's "does not exist" redirect (anywhere but the object's page)."""
    if response.status_code in (403, 404):
        return True
    return response.status_code == 302 and obj_url not in response["Location"]


def open_pages(client, model, obj):
    pages = {"changelist": url(model, "changelist"), "add": url(model, "add")}
    if obj is not None:
        for view in ("change", "delete", "history"):
            pages[view] = url(model, view, quote(obj.pk))
    return {name: (path, client.get(path)) for name, (path) in pages.items()}


def check_grants(problems, name, model, responses, must, must_not, obj):
    status = {page: response.status_code for page, (_path, response) in responses.items()}
    can = {
        "v": status["changelist"] == 200 and (obj is None or status.get("change") == 200),
        "a": status["add"] == 200,
        "c": obj is not None and status.get("change") == 200 and b'name="_save"' in responses["change"][1].content,
        "d": obj is not None and status.get("delete") == 200,
    }
    for letter in must:
        if not can[letter]:
            problems.append(f"{name} cannot {letter} {label(model)}: {status}")
    for letter in must_not:
        if can[letter]:
            problems.append(f"{name} can {letter} {label(model)} but must not: {status}")
    if can["v"] and obj is not None and status.get("history") != 200:
        problems.append(f"{name}: history of {label(model)} answers {status.get('history')}")
    if "v" in must and obj is not None:
        page = responses["changelist"][1].content.decode()
        if url(model, "change", quote(obj.pk)) not in page and label(model) != "guests.user":
            problems.append(f"{name}: own {label(model)} row missing from the changelist")


def check_hidden(problems, name, model, responses, obj):
    """``obj`` (someone else's row) must not open and not be listed."""
    if obj is None:
        return
    obj_url = url(model, "change", quote(obj.pk))
    for page in ("change", "delete", "history"):
        path, response = responses[page]
        if not is_hidden(response, obj_url):
            problems.append(f"{name} reaches {page} of another tenant's {label(model)}: {response.status_code}")
    _path, changelist = responses["changelist"]
    if changelist.status_code == 200 and obj_url in changelist.content.decode():
        problems.append(f"{name} sees another tenant's {label(model)} in the changelist")


def test_every_admin_of_our_models_is_scoped_or_superuser_only():
    from guests.admin import UserAdmin
    from properties.admin import AmenityAdmin

    unscoped = [
        label(model) for model, model_admin in registered()
        if model._meta.app_label in OUR_APPS and not is_superuser_only(model)
        and not isinstance(model_admin, TenantScopedAdmin | UserAdmin | AmenityAdmin)
    ]
    assert unscoped == []


def test_anonymous_is_sent_to_the_login_everywhere(world, client):
    problems = []
    for model, model_admin in registered():
        obj = row_of(world, world.a, model, model_admin)
        for page, (path, response) in open_pages(client, model, obj).items():
            if response.status_code != 302 or "/login/" not in response["Location"]:
                problems.append(f"anonymous {page} {path}: {response.status_code}")
    assert problems == []


def test_superuser_opens_everything(world, client):
    client.force_login(world.root)
    problems = []
    for model, model_admin in registered():
        obj = row_of(world, world.a, model, model_admin)
        responses = open_pages(client, model, obj)
        for page in ("changelist", "change", "history"):
            if page in responses and responses[page][1].status_code != 200:
                problems.append(f"superuser {page} {label(model)}: {responses[page][1].status_code}")
        for page in ("add", "delete"):  # read-only admins refuse these to everybody
            if page in responses and responses[page][1].status_code not in (200, 403):
                problems.append(f"superuser {page} {label(model)}: {responses[page][1].status_code}")
    assert problems == []


@pytest.mark.parametrize("role", ["owner", "staff"])
def test_owner_a_and_their_staff_get_exactly_their_role_on_their_rows(world, client, role):
    user, table = (world.a.owner, OWNER) if role == "owner" else (world.staff, STAFF)
    client.force_login(user)
    problems = []
    for model, model_admin in registered():
        obj = row_of(world, world.a, model, model_admin)
        responses = open_pages(client, model, obj)
        if is_superuser_only(model):
            bad = {p: r.status_code for p, (_u, r) in responses.items() if r.status_code != 403}
            if bad:
                problems.append(f"{role} reaches superuser-only {label(model)}: {bad}")
            continue
        must, must_not = table.get(label(model), ("", ""))
        check_grants(problems, role, model, responses, must, must_not, obj)
        if label(model) in GLOBAL_MODELS:
            continue
        # Owner B's row: never.
        theirs = row_of(world, world.b, model, model_admin)
        check_hidden(problems, role, model, open_pages(client, model, theirs), theirs)
    assert problems == []


def test_staff_sees_only_the_properties_they_are_assigned_to(world, client):
    client.force_login(world.staff)
    other = world.a_other  # owner A's, not assigned to this staff member
    response = client.get(url(type(other), "change", other.pk))
    assert is_hidden(response, url(type(other), "change", other.pk))
    page = client.get(url(type(other), "changelist")).content.decode()
    assert world.a.prop.name in page and other.name not in page


def test_owner_b_never_sees_owner_a_rows(world, client):
    client.force_login(world.b.owner)
    problems = []
    for model, model_admin in registered():
        if label(model) in GLOBAL_MODELS:
            continue
        obj = row_of(world, world.a, model, model_admin)
        responses = open_pages(client, model, obj)
        if is_superuser_only(model):
            bad = {p: r.status_code for p, (_u, r) in responses.items() if r.status_code != 403}
            if bad:
                problems.append(f"owner B reaches superuser-only {label(model)}: {bad}")
            continue
        check_hidden(problems, "owner B", model, responses, obj)
        # and B's own row is there for B (same role as A)
        mine = row_of(world, world.b, model, model_admin)
        must, must_not = OWNER.get(label(model), ("", ""))
        check_grants(problems, "owner B", model, open_pages(client, model, mine), must, must_not, mine)
    assert problems == []


def test_every_tenant_model_of_ours_has_rows_in_the_world(world):
    """Guard for the matrix above: a model registered later gets object-level checks only with rows here."""
    missing = [
        label(model) for model, model_admin in registered()
        if model._meta.app_label in OUR_APPS and not is_superuser_only(model)
        and (row_of(world, world.a, model, model_admin) is None or row_of(world, world.b, model, model_admin) is None)
    ]
    assert missing == [], "add rows of these models to tests/tenancy/conftest.py"


def test_back_office_urls_exist():
    for name in ("admin:index", "admin:calendar", "admin:reports", "admin:reports-csv",
                 "admin:payments_manualpayment_queue"):
        try:
            reverse(name)
        except NoReverseMatch:  # pragma: no cover - a failure message
            pytest.fail(f"{name} is not wired")
