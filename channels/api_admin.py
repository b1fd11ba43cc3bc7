"""The owner's side of API connections in the admin: connecting a property to a platform's API, and what an
API connection's page shows (health in plain words, the platform's ids, masked credentials) and does (full sync).

Connecting (``/admin/channel_sync/channelconnection/connect/?transport=channex``): the owner picks the property
and enters the platform's credentials ("Find my properties": the adapter's ``list_properties``); the second step
offers what the platform lists to pick from (Channex: the key's properties; Google: the property itself, under the
id Google will know), or, where the platform lists nothing but has checked the credentials (Booking.com: a token
exchange), asks for the ids from its extranet (hotel, room and rate plan codes). Between the two steps the
credentials wait in the session, encrypted (``core.crypto``), never in a page. ``channels.services.connect_api``
saves the connection; the webhook, the full sync and the first pull run in a task after the commit. No network
call happens inside a transaction: listing the platform's properties is a plain request of the web view.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.crypto import decrypt, encrypt
from core.errors import DomainError
from properties.tenancy import managed_properties

from . import api_sync, services
from .adapters import ADAPTERS, AdapterError
from .health import api_health
from .models import ChannelConnection, Transport

SESSION_KEY = "channels.connect.credentials"
API_TRANSPORTS = [(value, label) for value, label in Transport.choices if value != Transport.ICAL]
ID_LABELS = {
    Transport.CHANNEX: ("Channex property id", "Room type id", "Rate plan id"),
    Transport.BOOKING_COM: ("Hotel id", "Room id (InvTypeCode)", "Rate plan code"),
    Transport.GOOGLE_VR: ("Property id at Google (Hotel Center)", "Room id (blank: the property id)",
                          "Package id"),
}


def mask(secret: str) -> str:
    return f"••••{secret[-4:]}" if len(secret) > 8 else "••••"


class ConnectForm(forms.Form):
    """Property, credentials and the platform's ids (picked from what the platform lists, or typed)."""

    property = forms.ModelChoiceField(queryset=None)
    name = forms.CharField(required=False, max_length=100, help_text="Optional label, e.g. the listing's title.")
    remote = forms.CharField(required=False, label="Property on the platform", widget=forms.Select)
    remote_property_id = forms.CharField(required=False, max_length=100)
    remote_room_type_id = forms.CharField(required=False, max_length=100)
    remote_rate_plan_id = forms.CharField(required=False, max_length=100)

    IDS = ("remote_property_id", "remote_room_type_id", "remote_rate_plan_id")

    def __init__(self, *args, user, transport: str, remote_choices=None, typed_ids: bool = False, **kwargs):
        """First step: property, name, credentials. Second: the same (credentials blank: they wait in the
        session) and either ``remote_choices`` to pick from or, with ``typed_ids``, the ids to type."""
        super().__init__(*args, **kwargs)
        self.fields["property"].queryset = managed_properties(user).order_by("name")
        self.credential_keys = []
        for key, label in ADAPTERS[transport].credential_fields():
            self.fields[f"credential_{key}"] = forms.CharField(
                label=label, required=False, widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
                help_text="Kept encrypted; never shown again." + (
                    " Leave blank to keep what you entered." if remote_choices or typed_ids else ""))
            self.credential_keys.append(key)
        labels = ID_LABELS.get(transport, ("Property id", "Room type id", "Rate plan id"))
        for name, label in zip(self.IDS, labels, strict=True):
            self.fields[name].label = label
        # The id fields come last, and only where they are used (a posted form keeps them all, to read them).
        for name in ("remote", *self.IDS):
            self.fields[name] = self.fields.pop(name)
        if remote_choices:
            self.fields["remote"].widget.choices = remote_choices
        elif not args:
            del self.fields["remote"]
        if not typed_ids and not args:
            for name in self.IDS:
                del self.fields[name]

    def credentials(self) -> dict[str, str]:
        return {key: (self.cleaned_data.get(f"credential_{key}") or "").strip() for key in self.credential_keys}


def connect_view(model_admin, request):
    """GET: the form. POST ``step=find``: ask the platform what the credentials see and offer it (the credentials
    wait in the session, encrypted). POST ``step=connect``: connect (``channels.services.connect_api``)."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    transport = request.POST.get("transport") or request.GET.get("transport") or Transport.CHANNEX
    if transport not in ADAPTERS:
        messages.error(request, "Choose a platform API.")
        return HttpResponseRedirect(reverse("admin:channel_sync_channelconnection_changelist"))
    adapter = ADAPTERS[transport]
    if request.method != "POST":
        request.session.pop(SESSION_KEY, None)
        form = ConnectForm(user=request.user, transport=transport, initial={"property": request.GET.get("property")})
        return _page(model_admin, request, form, transport)
    form = ConnectForm(request.POST, user=request.user, transport=transport)
    if not form.is_valid():
        return _page(model_admin, request, form, transport)
    credentials = {k: v for k, v in form.credentials().items() if v} or _pending(request, transport)
    if len(credentials) < len(form.credential_keys):
        form.add_error(None, f"Enter the {adapter.label} credentials.")
        return _page(model_admin, request, form, transport)
    if request.POST.get("step") != "find":
        return _connect(model_admin, request, form, transport, credentials)
    try:
        found = services.remote_properties(transport, credentials, form.cleaned_data["property"])
    except AdapterError as exc:
        form.add_error(None, f"{adapter.label} answered: {exc.detail}")
        return _page(model_admin, request, form, transport)
    request.session[SESSION_KEY] = encrypt(json.dumps({"transport": transport, **credentials}))
    initial = {"property": form.cleaned_data["property"].pk, "name": form.cleaned_data["name"]}
    if not found:  # accepted, but the platform lists nothing (Booking.com): the ids are typed
        messages.info(request, f"{adapter.label} accepted the credentials. Enter the ids of the listing there.")
        typed = ConnectForm(user=request.user, transport=transport, initial=initial, typed_ids=True)
        return _page(model_admin, request, typed, transport, checked=True)
    choices = [(f"{p.property_id}|{p.room_type_id}|{p.rate_plan_id}",
                f"{p.title} ({p.currency})" if p.currency else p.title) for p in found]
    picked = ConnectForm(user=request.user, transport=transport, remote_choices=choices, initial=initial)
    return _page(model_admin, request, picked, transport, picking=True)


def _page(model_admin, request, form: ConnectForm, transport: str, picking: bool = False,
          checked: bool = False) -> TemplateResponse:
    adapter = ADAPTERS[transport]
    return TemplateResponse(request, "admin/channel_sync/channelconnection/connect.html", {
        **model_admin.admin_site.each_context(request), "opts": ChannelConnection._meta, "form": form,
        "title": f"Connect {adapter.label}", "adapter": adapter, "transport": transport,
        "transports": API_TRANSPORTS, "picking": picking or checked, "has_pending": bool(_pending(request, transport))})


def _pending(request, transport: str) -> dict[str, str]:
    try:
        data = json.loads(decrypt(request.session.get(SESSION_KEY, "")) or "{}")
    except Exception:  # no, a stale or a foreign session value: start again
        return {}
    return {k: v for k, v in data.items() if k != "transport"} if data.get("transport") == transport else {}


def _connect(model_admin, request, form: ConnectForm, transport: str, credentials: dict[str, str]):
    data = form.cleaned_data
    if data.get("remote"):
        remote_property_id, room_type_id, rate_plan_id = (data["remote"].split("|") + ["", ""])[:3]
    else:
        remote_property_id = data.get("remote_property_id") or ""
        room_type_id = data.get("remote_room_type_id") or ""
        rate_plan_id = data.get("remote_rate_plan_id") or ""
    try:
        connection = services.connect_api(
            property_id=data["property"].pk, transport=transport, credentials=credentials,
            remote_property_id=remote_property_id, remote_room_type_id=room_type_id,
            remote_rate_plan_id=rate_plan_id, name=data.get("name") or "")
    except DomainError as exc:
        form.add_error(None, exc.detail)
        return _page(model_admin, request, form, transport)
    request.session.pop(SESSION_KEY, None)
    model_admin.log_addition(request, connection, f"Connected {ADAPTERS[transport].label}.")
    messages.success(request, f"{connection} connected. Stayhold now sends the full calendar and then every change "
                              "within seconds; reservations made there arrive here by themselves.")
    return HttpResponseRedirect(reverse("admin:channel_sync_channelconnection_change", args=[connection.pk]))


def full_sync_view(model_admin, request, object_id):
    """POST: queue a full sync of an API connection (never run in the web request)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    connection = model_admin.changeable_connection(request, object_id)
    back = HttpResponseRedirect(reverse("admin:channel_sync_channelconnection_change", args=[connection.pk]))
    if not connection.is_api:
        messages.error(request, "Only API connections have a full sync; use “Sync now”.")
        return back
    api_sync.request_full_sync(connection)
    model_admin.log_change(request, connection, "Full sync requested.")
    messages.success(request, "Full sync queued: the whole calendar, rates and rules are sent again in a moment.")
    return back


# --- what an API connection's page shows ------------------------------------------------------------------------


def health_html(connection: ChannelConnection) -> str:
    now = timezone.now()
    return format_html("<ul style='margin:0;padding-left:1.2em'>{}</ul>", format_html_join(
        "", "<li>{}</li>", ((sentence,) for sentence in api_health(connection, now).sentences(now))))


def credentials_html(connection: ChannelConnection) -> str:
    adapter = ADAPTERS.get(connection.transport)
    if adapter is None:
        return "—"
    shown = [(label, mask(connection.credential(key)) if connection.credential(key) else "not set")
             for key, label in adapter.credential_fields()]
    return format_html_join(", ", "{}: {}", shown)
