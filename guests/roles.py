"""Back-office roles as Django groups, so the admin's own permission checks apply to them.

Two groups, created and kept in sync on every ``migrate`` (``post_migrate``), so
every install has them and a changed table below reaches existing databases:

* **Owners** run their business: their properties and everything hanging off
  them (photos, pricing rules, date overrides, blocks, turnover tasks), their
  payout methods (``HostPaymentMethod``), their staff accounts, bookings
  (``manage_booking``: confirm, cancel + refund, owner bookings;
  ``checkin_booking``; ``view_reports``) and manual payment decisions, and their
  channel connections (connect a platform, sync now, rotate the export URL,
  pause) and channel conflicts (resolving needs ``change_syncconflict``;
  cancelling our booking to resolve one also needs ``manage_booking``), and
  messaging (the inbox and replies, templates, automatic messages, door codes)
  and their reviews (reply publicly, flag abusive ones; never hide them).
* **Staff** are assigned to properties by an owner: they see those properties,
  their bookings and guests, block dates (maintenance), do the turnover tasks,
  check guests in and out and verify manual payments. No pricing (rules,
  overrides and property prices are view-only) and no payout settings. Channel
  connections, sync runs and conflicts are view-only for them (and they never
  see the connection's secret URLs). Reviews: they keep or hide flagged ones
  (``moderate_review``) only when they do not work for the property's owner
  (``reviews.services.is_independent_of``).
  see the connection's secret URLs). They read and answer their properties'
  guests in the inbox.

Superusers need no group. *Which rows* a role sees is not a permission: the
admin scopes every queryset to the user's properties (``core.tenancy``).

Syncing makes each group's permissions exactly the table's (a permission removed
here is removed from the group), and never touches users' memberships.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

OWNERS = "Owners"
STAFF = "Staff"

# {group: {"app_label.model": "letters of view/add/change/delete" }, extra permissions as "app_label.codename"}
_CRUD = {"v": "view", "a": "add", "c": "change", "d": "delete"}

ROLE_MODEL_PERMISSIONS: dict[str, dict[str, str]] = {
    OWNERS: {
        "properties.property": "vacd",
        "properties.propertyphoto": "vacd",
        "properties.pricingrule": "vacd",
        "properties.dateoverride": "vacd",
        "bookings.availabilityblock": "vacd",
        "bookings.turnovertask": "vc",
        "properties.amenity": "v",
        "bookings.booking": "va",  # add: owner bookings (through the services); no change form
        "bookings.bookingevent": "v",
        "bookings.guestmessage": "v",
        "bookings.sentemail": "v",
        "guests.guest": "v",
        "guests.user": "vac",  # themselves and their staff accounts (scoped in guests.admin)
        "payments.payment": "v",
        "payments.refund": "v",
        "payments.paymentevent": "v",
        "payments.hostpaymentmethod": "vacd",
        "payments.manualpayment": "v",
        "payments.manualpaymentevent": "v",
        # Payment schedule and security deposit of their properties (catalogue settings); plans and deposits are
        # written by payments.balances / payments.security_deposits, the booking page's buttons.
        "payments.paymentschedule": "vacd",
        "payments.paymentplan": "v",
        "payments.securitydeposit": "v",
        "payments.securitydepositevent": "v",
        # Channel manager: connect platforms, sync now, rotate, pause; resolve conflicts (change = resolve).
        "channel_sync.channelconnection": "vacd",
        "channel_sync.syncrun": "v",
        "channel_sync.syncconflict": "vc",
        # Reviews: read them; reply publicly and flag abusive ones (reviews.*_review below), never hide.
        "reviews.review": "v",
        "reviews.reviewevent": "v",
        # Messaging: the inbox (change = reply), templates, each property's messaging settings.
        "messaging.thread": "vc",
        "messaging.message": "v",
        "messaging.messagetemplate": "vacd",
        "messaging.messagesettings": "vac",
    },
    STAFF: {
        "properties.property": "v",
        "properties.propertyphoto": "v",
        "properties.pricingrule": "v",
        "properties.dateoverride": "v",
        "bookings.availabilityblock": "vacd",  # maintenance blocks
        "bookings.turnovertask": "vc",
        "properties.amenity": "v",
        "bookings.booking": "v",
        "bookings.bookingevent": "v",
        "bookings.guestmessage": "v",
        "bookings.sentemail": "v",
        "guests.guest": "v",
        "payments.payment": "v",
        "payments.refund": "v",
        "payments.paymentevent": "v",
        "payments.manualpayment": "v",
        "payments.manualpaymentevent": "v",
        "payments.paymentschedule": "v",
        "payments.paymentplan": "v",
        "payments.securitydeposit": "v",
        "payments.securitydepositevent": "v",
        # Channel manager: see connections' health, runs and conflicts; no set-up, no secrets, no decisions.
        "channel_sync.channelconnection": "v",
        "channel_sync.syncrun": "v",
        "channel_sync.syncconflict": "v",
        "reviews.review": "v",
        "reviews.reviewevent": "v",
        # Messaging: read and answer their properties' guests with their employer's templates.
        "messaging.thread": "vc",
        "messaging.message": "v",
        "messaging.messagetemplate": "v",
        "messaging.messagesettings": "v",
    },
}

ROLE_EXTRA_PERMISSIONS: dict[str, list[str]] = {
    OWNERS: ["bookings.manage_booking", "bookings.checkin_booking", "bookings.view_reports",
             "payments.verify_manualpayment", "reviews.reply_review", "reviews.flag_review"],
    # moderate_review: hide or keep flagged reviews of assigned properties; reviews.services refuses it to the
    # property's owner and to staff employed by that owner (docs/reviews.md), so it takes independent staff.
    STAFF: ["bookings.checkin_booking", "payments.verify_manualpayment", "reviews.moderate_review"],
}


def role_permission_names(group_name: str) -> set[str]:
    """``app_label.codename`` of every permission of the role."""
    names = set(ROLE_EXTRA_PERMISSIONS[group_name])
    for label, letters in ROLE_MODEL_PERMISSIONS[group_name].items():
        app_label, model = label.split(".")
        names |= {f"{app_label}.{_CRUD[letter]}_{model}" for letter in letters}
    return names


def _permissions(names: set[str]):
    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.filter(query)


def sync_roles() -> dict[str, Group]:
    """Create the groups and set their permissions to the table's. Idempotent."""
    groups = {}
    for group_name in ROLE_MODEL_PERMISSIONS:
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = role_permission_names(group_name)
        group.permissions.set(list(_permissions(wanted)))
        groups[group_name] = group
    return groups


def sync_roles_after_migrate(sender, app_config=None, **kwargs):
    """post_migrate receiver. post_migrate runs once per app, in INSTALLED_APPS order, and each app's
    permissions are created in its own run: only in the last app's run do all of them exist."""
    from django.apps import apps

    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if app_config is not None and app_config.label == last.label:
        sync_roles()


def assign_role(user, group_name: str) -> None:
    """Put ``user`` in the role's group (the back office also needs ``is_staff``)."""
    user.groups.add(Group.objects.get_or_create(name=group_name)[0])
