"""Admin for channel connections, their sync runs and conflicts (the owner's side of the iCal channel manager).

* **Connections** are edited on the property's page (:class:`ChannelConnectionInline`)
  and on their own page (:class:`ChannelConnectionAdmin`), which adds the set-up
  guide of the platform (``channels.platforms``), the last 20 runs, the open
  conflicts and the buttons *Sync now*, *Rotate export URL* and *Pause/Resume*.
* The platform's import URL is a secret (it reads the host's calendar): once
  saved it is never sent back to the browser, only its host and last characters
  (:func:`mask_url`); a blank field on change keeps it; errors that could quote
  it are redacted (:func:`redact`). Our export URL is a secret too: only users who
  may change the connection (owners) see it.
* **Runs** are a read-only log. **Conflicts** are read-only rows with a page per
  resolution: each asks for a note and goes through
  ``channels.services.resolve_conflict`` (the booking services underneath);
  resolved conflicts offer nothing more.

Roles (``guests.roles``): Owners change their connections and resolve conflicts
(cancelling our booking also needs ``bookings.manage_booking``); Staff view them.
Every admin here is tenant-scoped (``core.tenancy``): another owner's
connection, run or conflict answers 404 (Django's "does not exist" redirect on
the standard pages).
"""

from __future__ import annotations

import logging
from functools import partial
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from bookings.models import MANAGE_BOOKING, AvailabilityBlock
from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError
from core.tenancy import TenantScopedAdmin, TenantScopedInline
from properties.admin import PropertyPageExtension, extend_property_admin

from . import api_admin, health, services
from .adapters.google_vr import google_url_template
from .fetch import FetchError, validate_import_url
from .models import CHANNEX, ChannelConnection, ConnectionStatus, SyncConflict, SyncRun, Transport
from .platforms import guide_for

logger = logging.getLogger(__name__)

CHANGE_CONNECTION = "channel_sync.change_channelconnection"
RESOLVE_CONFLICT = "channel_sync.change_syncconflict"
RUNS_SHOWN = 20
CONFLICTS_SHOWN = 50
ERROR_SHORT = 120

BADGE_COLOURS = {
    ConnectionStatus.OK: "#2e7d32",
    ConnectionStatus.WARNING: "#b26a00",
    ConnectionStatus.FAILING: "#c62828",
    ConnectionStatus.PAUSED: "#616161",
    "stale": "#6a1b9a",
    "export_only": "#455a64",
    "open": "#c62828",
    "resolved": "#2e7d32",
    SyncRun.Outcome.OK: "#2e7d32",
    SyncRun.Outcome.NOT_MODIFIED: "#455a64",
    SyncRun.Outcome.WARNING: "#b26a00",
    SyncRun.Outcome.ERROR: "#c62828",
}


# --- secrets: never show the saved import URL, redact it from errors ---------------------------------------


def mask_url(url: str, keep: int = 4) -> str:
    """``https://www.airbnb.com/…f3a9``: enough to recognise which URL is saved, not enough to use it."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}/…{url[-keep:] if len(url) > len(host) + keep + 8 else ''}"


def redact(text: str, url: str) -> str:
    """``text`` without the secret parts of ``url`` (the whole URL, its path + query, its query).

    A fetch error may quote the URL it failed on (e.g. "…Max retries exceeded with url: /calendar/…?s=…")."""
    if not text or not url:
        return text or ""
    parts = urlsplit(url)
    secrets = [url, url.split("#")[0]]
    path_query = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(path_query) > 1:
        secrets.append(path_query)
    if parts.query:
        secrets.append(parts.query)
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, mask_url(url) if secret == url else "…")
    return text


def feed_path(token: str) -> str:
    try:
        return reverse("channels:feed", args=[token])
    except NoReverseMatch:  # the feed view is not wired yet: the contract's URL
        return f"/ical/{token}.ics"


def export_url(connection: ChannelConnection) -> str:
    """Our feed for this connection, absolute (the platform fetches it from outside)."""
    return f"{settings.SITE_URL}{feed_path(connection.export_token)}"


def badge(text: str, key: str, title: str = "") -> str:
    colour = BADGE_COLOURS.get(key, "#616161")
    return format_html('<span class="ch-badge ch-{}" title="{}" style="display:inline-block;padding:1px 7px;'
                       'border-radius:9px;background:{};color:#fff;font-size:11px;font-weight:600;'
                       'white-space:nowrap">{}</span>', key, title, colour, text)


def health_badges(connection: ChannelConnection, now=None) -> str:
    """Status badge, plus "stale" when no success for 3 intervals and "export only" without an import URL."""
    parts = [badge(connection.get_status_display(), connection.status)]
    if connection.is_api:
        parts.append(badge("API", "api", connection.get_transport_display()))
        if connection.breaker_state != "closed":
            parts.append(badge("updates paused", "breaker", connection.get_breaker_state_display()))
    elif not connection.import_url:
        parts.append(badge("export only", "export_only", "No import URL: we only publish our calendar."))
    elif connection.is_stale(now):
        parts.append(badge("stale", "stale", "No successful sync for 3 poll intervals."))
    return format_html_join(" ", "{}", ((p,) for p in parts))


# --- the connection form ---------------------------------------------------------------------------------


class SecretUrlInput(forms.PasswordInput):
    """A password-style input that never renders the saved value (only a masked placeholder)."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "off", "spellcheck": "false", "size": 60, **(attrs or {})},
                         render_value=False)


def normalise_import_url(value: str) -> str:
    """Strip, turn ``webcal://`` (Google Calendar, Apple) into ``https://``, then the fetch's own check
    (``channels.fetch.validate_import_url``: one parse, the HTTP client's; no user info, backslashes, whitespace
    or control characters; IPv4 only as four decimal numbers; no private, local or reserved literal address or
    local name unless ``CHANNEL_ALLOW_PRIVATE_URLS``). The fetch checks again at every hop, after DNS."""
    value = value.strip()
    if value.lower().startswith("webcal://"):
        value = "https://" + value[len("webcal://"):]
    try:
        validate_import_url(value)
    except FetchError as exc:  # its message never quotes the URL
        raise ValidationError(exc.message, code="invalid") from None
    return value


class SecretUrlField(forms.CharField):
    """The import URL field: blank means "keep the saved one", so only a pasted, different address is a change."""

    def has_changed(self, initial, data):
        if not (data or "").strip():
            return False
        try:
            return normalise_import_url(data) != (initial or "")
        except ValidationError:
            return True


class ChannelConnectionForm(forms.ModelForm):
    import_url = SecretUrlField(
        required=False, widget=SecretUrlInput, label="Import URL (the platform's export link)",
        help_text="The platform's iCal export address of this listing. Kept encrypted; never shown again once saved. "
                  "Leave empty for a connection that only publishes our calendar.")
    clear_import_url = forms.BooleanField(
        required=False, label="Remove the saved import URL",
        help_text="Stop importing (export only). Stays already imported are kept.")

    class Meta:
        model = ChannelConnection
        fields = ["property", "platform", "name", "import_url", "sync_enabled", "poll_interval_minutes"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "platform" in self.fields:  # Channex is an API, not a calendar: it is connected on its own page
            self.fields["platform"].choices = [c for c in self.fields["platform"].choices if c[0] != CHANNEX]
        saved = self.instance.import_url if self.instance.pk else ""
        field = self.fields["import_url"]
        if saved:
            field.widget.attrs["placeholder"] = f"saved: {mask_url(saved)}"
            field.help_text = (f"Saved: {mask_url(saved)}. Leave blank to keep it; paste a new address to "
                               "replace it. Kept encrypted; never shown again.")
        else:
            field.widget.attrs["placeholder"] = "https://…/calendar.ics"
            # Nothing to remove: keep the field (the admin layout names it) but hide it.
            self.fields["clear_import_url"].widget = forms.HiddenInput()

    def clean_import_url(self):
        value = self.cleaned_data.get("import_url") or ""
        if not value.strip():
            return self.instance.import_url if self.instance.pk else ""  # blank keeps the saved URL
        # Never echo the pasted value back (the widget does not render it either; the messages never quote it).
        return normalise_import_url(value)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("clear_import_url"):
            cleaned["import_url"] = ""
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        if self.cleaned_data.get("clear_import_url"):
            self.instance.import_url = ""

    def save(self, commit=True):
        """Keep the sync bookkeeping consistent with what changed (``channels.services.prepare_connection_save``)."""
        services.prepare_connection_save(self.instance, changed=set(self.changed_data))
        return super().save(commit)


class ApiConnectionForm(forms.ModelForm):
    """An API connection's page: its label and pausing; credentials and ids change through "Connect" again."""

    class Meta:
        model = ChannelConnection
        fields = ["name", "sync_enabled"]

    def save(self, commit=True):
        services.prepare_connection_save(self.instance, changed=set(self.changed_data))
        return super().save(commit)


# --- read-only pieces shared by the inline and the admin ---------------------------------------------------


class ConnectionDisplayMixin:
    """Badges, the masked import URL, our export URL with its copy button and guide link.

    Users who may not change connections (staff) get the masked import URL instead of the field and no
    export URL (:meth:`swap_secret_fields`): a read-only admin form would otherwise print raw values."""

    SECRET_SWAPS = {"import_url": "import_url_masked", "export_url_display": "export_url_hidden"}

    def swap_secret_fields(self, fields, can_change: bool):
        out = []
        for entry in fields:
            if isinstance(entry, tuple | list):
                out.append(tuple(self.swap_secret_fields(entry, can_change)))
            elif not can_change and entry == "clear_import_url":
                continue
            else:
                out.append(entry if can_change else self.SECRET_SWAPS.get(entry, entry))
        return out

    @admin.display(description="Import URL")
    def import_url_masked(self, obj):
        return mask_url(obj.import_url) if obj and obj.pk and obj.import_url else "—"

    @admin.display(description="Status")
    def health(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return health_badges(obj)

    @admin.display(description="Last error")
    def last_error_short(self, obj):
        if obj is None or not obj.last_error:
            return "—"
        text = redact(obj.last_error, obj.import_url)
        return format_html('<span title="{}">{}</span>', text, Truncator(text).chars(ERROR_SHORT))

    @admin.display(description="Last run")
    def last_counts_display(self, obj):
        counts = (obj.last_counts or {}) if obj else {}
        shown = [(k, counts[k]) for k in ("created", "changed", "cancelled", "unchanged", "conflicts", "blocks")
                 if counts.get(k)]
        return ", ".join(f"{v} {k}" for k, v in shown) or "—"

    @admin.display(description="Our export URL")
    def export_url_display(self, obj):
        if obj is None or obj.pk is None:
            return "Save the connection to get our export URL."
        guide = guide_for(obj.platform)
        url = export_url(obj)
        return format_html(
            '<code class="ch-export-url" style="word-break:break-all">{}</code> '
            '<button type="button" class="button" data-copy="{}">Copy</button><br>'
            '<a href="{}#setup">Where to paste it in {} ›</a>', url, url,
            reverse("admin:channel_sync_channelconnection_change", args=[quote(obj.pk)]), guide.name)

    @admin.display(description="Our export URL")
    def export_url_hidden(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return format_html('Visible to owners. <a href="{}#setup">How {} is connected ›</a>',
                           reverse("admin:channel_sync_channelconnection_change", args=[quote(obj.pk)]),
                           guide_for(obj.platform).name)


STATUS_FIELDS = ["health", "last_success_at", "last_error_short", "export_url_display"]
DISPLAY_FIELDS = [*STATUS_FIELDS, "import_url_masked", "export_url_hidden"]


class ChannelConnectionInline(ConnectionDisplayMixin, TenantScopedInline, admin.StackedInline):
    """Connections on the property's page: paste their URL, copy ours."""

    model = ChannelConnection
    form = ChannelConnectionForm
    extra = 0
    fields = [("platform", "name"), "import_url", "clear_import_url", ("sync_enabled", "poll_interval_minutes"),
              *STATUS_FIELDS]
    readonly_fields = DISPLAY_FIELDS
    verbose_name = "channel connection (iCal)"
    verbose_name_plural = "channel connections (iCal calendars of Airbnb, Booking.com, Vrbo …)"
    show_change_link = True

    class Media:
        js = ["js/copy.js"]

    def get_fields(self, request, obj=None):
        return self.swap_secret_fields(self.fields, request.user.has_perm(CHANGE_CONNECTION))

    def get_queryset(self, request):
        # iCal connections only: an API connection is made and shown on its own page ("Connect a platform API").
        return super().get_queryset(request).filter(transport=Transport.ICAL).select_related("property")


class ChannelBlockInline(ReadOnlyAdminMixin, TenantScopedInline, admin.TabularInline):
    """Channel blocks on the property's page, read-only: the next sync replaces them anyway."""

    model = AvailabilityBlock
    fk_name = "property"
    extra = 0
    can_delete = False
    fields = ["start_date", "end_date", "connection", "tentative", "summary"]
    readonly_fields = fields
    verbose_name = "channel block"
    verbose_name_plural = "channel blocks (dates a platform marks unavailable; replaced on every sync)"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(connection__isnull=False, end_date__gte=timezone.localdate())

    @admin.display(description="As imported")
    def summary(self, obj):
        return Truncator(obj.external_summary or obj.note).chars(80) or "—"


extend_property_admin(PropertyPageExtension(order=20, inlines=(ChannelBlockInline, ChannelConnectionInline)))


# --- list filters --------------------------------------------------------------------------------------------


class HealthFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return [("attention", "Needs attention (failing, warning or stale)"), ("stale", "Stale")]

    def queryset(self, request, queryset):
        if self.value() == "attention":
            return health.needing_attention(queryset)
        if self.value() == "stale":
            return health.stale(queryset)
        return queryset


class ConflictStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


# --- connections ---------------------------------------------------------------------------------------------


@admin.register(ChannelConnection)
class ChannelConnectionAdmin(ConnectionDisplayMixin, TenantScopedAdmin):
    form = ChannelConnectionForm
    list_display = ["__str__", "property", "platform", "health", "last_success_at", "last_counts_display",
                    "sync_enabled"]
    list_filter = [HealthFilter, "status", "platform", "sync_enabled", "property"]
    search_fields = ["name", "property__name"]
    list_select_related = ["property"]
    csv_fields = ["property", "platform", "name", "status", "sync_enabled", "poll_interval_minutes",
                  "last_success_at", "last_attempt_at"]
    autocomplete_fields = ["property"]
    readonly_fields = [*DISPLAY_FIELDS, "last_attempt_at", "next_poll_at", "consecutive_failures",
                       "last_counts_display", "created_at"]
    fieldsets = [
        (None, {"fields": ["property", ("platform", "name"), "import_url", "clear_import_url",
                           ("sync_enabled", "poll_interval_minutes")]}),
        ("Our calendar for this platform", {"fields": ["export_url_display"]}),
        ("Sync status", {"fields": ["health", ("last_attempt_at", "last_success_at", "next_poll_at"),
                                    "consecutive_failures", "last_error_short", "last_counts_display",
                                    "created_at"]}),
    ]

    class Media:
        js = ["js/copy.js"]

    api_fieldsets = [
        (None, {"fields": ["property", ("platform", "name"), "sync_enabled"]}),
        ("Platform API", {"fields": ["transport", "credentials_masked",
                                     ("remote_property_id", "remote_room_type_id", "remote_rate_plan_id"),
                                     "landing_template"]}),
        ("Health", {"fields": ["health", "api_health_display", "last_error_short",
                               ("last_push_at", "last_pull_at", "last_full_sync_at")]}),
    ]

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None and obj.is_api:
            kwargs["form"] = ApiConnectionForm
        return super().get_form(request, obj, **kwargs)

    @admin.display(description="Credentials")
    def credentials_masked(self, obj):
        return api_admin.credentials_html(obj) if obj is not None else "—"

    @admin.display(description="Landing page for Google")
    def landing_template(self, obj):
        """Google connections: the URL template to give Google (Hotel Center → Points of sale)."""
        if obj is None or obj.transport != Transport.GOOGLE_VR:
            return "—"
        template = google_url_template()
        return format_html('<code style="word-break:break-all">{}</code> <button type="button" class="button" '
                           'data-copy="{}">Copy</button><br>Paste it in Hotel Center (Points of sale): Google '
                           'fills in the property, dates, guests and the price it showed.', template, template)

    @admin.display(description="In plain words")
    def api_health_display(self, obj):
        return api_admin.health_html(obj) if obj is not None and obj.pk else "—"

    def get_fieldsets(self, request, obj=None):
        if obj is not None and obj.is_api:
            if obj.transport == Transport.GOOGLE_VR:
                return self.api_fieldsets
            return [(title, {**options, "fields": [f for f in options["fields"] if f != "landing_template"]})
                    for title, options in self.api_fieldsets]
        if obj is None:  # a new connection: status and export URL come after saving
            return [(None, {"fields": self.swap_secret_fields(self.fieldsets[0][1]["fields"], True)})]
        can_change = self.has_change_permission(request, obj)
        return [(title, {**options, "fields": self.swap_secret_fields(options["fields"], can_change)})
                for title, options in self.fieldsets]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.is_api:
            readonly += ["platform", "transport", "credentials_masked", "remote_property_id", "remote_room_type_id",
                         "remote_rate_plan_id", "landing_template", "api_health_display", "last_push_at",
                         "last_pull_at", "last_full_sync_at"]
        if obj is not None:
            readonly.append("property")  # its imported stays and channel blocks belong to this property
        return readonly

    # --- pages and buttons ---

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        info = "channel_sync_channelconnection"
        return [
            path("connect/", wrap(partial(api_admin.connect_view, self)), name=f"{info}_connect"),
            path("<path:object_id>/full-sync/", wrap(partial(api_admin.full_sync_view, self)),
                 name=f"{info}_full_sync"),
            path("<path:object_id>/sync/", wrap(self.sync_now_view), name=f"{info}_sync"),
            path("<path:object_id>/rotate/", wrap(self.rotate_view), name=f"{info}_rotate"),
            path("<path:object_id>/pause/", wrap(self.pause_view), {"paused": True}, name=f"{info}_pause"),
            path("<path:object_id>/resume/", wrap(self.pause_view), {"paused": False}, name=f"{info}_resume"),
            *super().get_urls(),
        ]

    def changeable_connection(self, request, object_id) -> ChannelConnection:
        """The connection if the user may see it (else 404) and change it (else 403)."""
        connection = self.get_queryset(request).select_related("property").filter(pk=object_id).first() \
            if str(object_id).isdigit() else None
        if connection is None:
            raise Http404("No such channel connection.")
        if not self.has_change_permission(request, connection):
            raise PermissionDenied
        return connection

    def _back(self, connection) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:channel_sync_channelconnection_change", args=[connection.pk]))

    def sync_now_view(self, request, object_id):
        """POST: queue a sync of this connection now (the worker fetches; no fetch in the web request).

        The result shows in the connection page's last sync runs once the worker has finished it."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        connection = self.changeable_connection(request, object_id)
        if not connection.import_url:
            messages.error(request, "Paste the platform's export URL (import URL) first: there is nothing to sync.")
            return self._back(connection)
        if not connection.sync_enabled:
            messages.error(request, "Syncing is paused for this connection: resume it first.")
            return self._back(connection)
        from .tasks import sync_connection_task

        try:
            sync_connection_task.delay(connection.pk, "manual")
        except Exception:  # the broker is down: no 500 page; the scheduled sync still runs when it is back
            logger.warning("Could not queue a manual sync of channel connection %s", connection.pk, exc_info=True)
            messages.error(request, "The sync could not be queued (the task queue is unavailable); the scheduled "
                                    "sync runs as soon as it is back. Try again later.")
            return self._back(connection)
        messages.success(request, "Sync queued: the worker fetches the calendar now; reload this page in a "
                                  "moment to see the result in the last sync runs below.")
        return self._back(connection)

    def rotate_view(self, request, object_id):
        """GET: confirm; POST: a new export token (the old URL answers 404 from now on)."""
        connection = self.changeable_connection(request, object_id)
        guide = guide_for(connection.platform)
        if request.method == "POST":
            services.rotate_export_url(connection)
            self.log_change(request, connection, [{"changed": {"fields": ["export URL (rotated)"]}}])
            messages.success(request, f"New export URL created; the old one stops working now. Paste the new one "
                                      f"into {guide.name} (replace the old calendar there).")
            return self._back(connection)
        return TemplateResponse(request, "admin/channel_sync/channelconnection/rotate_confirm.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "connection": connection,
            "guide": guide, "title": "Rotate the export URL?",
        })

    def pause_view(self, request, object_id, paused: bool):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        connection = self.changeable_connection(request, object_id)
        services.set_paused(connection, paused=paused)
        self.log_change(request, connection, "Paused syncing." if paused else "Resumed syncing.")
        messages.success(request, f"{connection}: syncing {'paused' if paused else 'resumed'}.")
        return self._back(connection)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        connection = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        if connection is not None:
            runs = list(connection.runs.order_by("-started_at", "-pk")[:RUNS_SHOWN])
            for run in runs:
                run.error_shown = redact(run.error, connection.import_url)
            extra.update({
                "guide": guide_for(connection.platform),
                "runs": runs,
                "open_conflicts": list(connection.conflicts.filter(resolved_at__isnull=True)
                                       .select_related("other_booking", "other_block")
                                       .order_by("-detected_at", "-pk")[:CONFLICTS_SHOWN]),
                "can_operate": self.has_change_permission(request, connection),
                "our_export_url": export_url(connection) if self.has_change_permission(request, connection) else "",
            })
        return super().change_view(request, object_id, form_url, extra)

    def get_deleted_objects(self, objs, request):
        """A connection takes its runs, conflicts and channel blocks with it: those are never deleted on their
        own (no one has that permission), but they must not stop the owner from deleting the connection."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        owned = {str(m._meta.verbose_name) for m in (SyncRun, SyncConflict, AvailabilityBlock)}
        return deleted, counts, {p for p in perms_needed if str(p) not in owned}, protected

    def delete_model(self, request, obj):
        services.delete_connection(obj)

    def delete_queryset(self, request, queryset):
        for connection in queryset:
            services.delete_connection(connection)


# --- runs ----------------------------------------------------------------------------------------------------


@admin.register(SyncRun)
class SyncRunAdmin(TenantScopedAdmin):
    """The sync log, read-only (kept ``CHANNEL_SYNC_RUN_RETENTION_DAYS``)."""

    list_display = ["started_at", "connection", "trigger", "outcome_badge", "http_status", "events_seen",
                    "created", "changed", "cancelled", "unchanged", "conflicts", "blocks", "duration_ms",
                    "error_short"]
    list_filter = ["outcome", "trigger", "connection__platform", "connection__property"]
    list_select_related = ["connection__property"]
    date_hierarchy = "started_at"
    csv_fields = ["started_at", "connection", "trigger", "outcome", "http_status", "bytes", "duration_ms",
                  "events_seen", "created", "changed", "cancelled", "unchanged", "conflicts", "blocks"]
    fields = ["connection", "started_at", "finished_at", "trigger", "outcome_badge", "http_status", "bytes",
              "duration_ms", "events_seen", ("created", "changed", "cancelled", "unchanged", "conflicts", "blocks"),
              "error_full"]
    readonly_fields = ["connection", "started_at", "finished_at", "trigger", "outcome_badge", "http_status", "bytes",
                       "duration_ms", "events_seen", "created", "changed", "cancelled", "unchanged", "conflicts",
                       "blocks", "error_full"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        """Operators (superusers) also see the precise reason of a failed fetch; owners never do: it would let a
        tenant probe the server's network (``channels.fetch``)."""
        fields = list(super().get_fields(request, obj))
        return [*fields, "detail_operators"] if request.user.is_superuser else fields

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "detail_operators"] if request.user.is_superuser else readonly

    @admin.display(description="Detail (operators only)")
    def detail_operators(self, obj):
        return redact(obj.detail, obj.connection.import_url) or "—"

    @admin.display(description="Outcome", ordering="outcome")
    def outcome_badge(self, obj):
        return badge(obj.get_outcome_display(), obj.outcome)

    @admin.display(description="Error")
    def error_short(self, obj):
        return Truncator(redact(obj.error, obj.connection.import_url)).chars(ERROR_SHORT) or "—"

    @admin.display(description="Error")
    def error_full(self, obj):
        return redact(obj.error, obj.connection.import_url) or "—"


# --- conflicts -----------------------------------------------------------------------------------------------

R = SyncConflict.Resolution
# What the owner can decide (GONE is the sync's own: the event left the feed), and what each does.
def booking_line(b) -> str:
    """A booking in one line with a link: reference · source · dates · status."""
    return format_html('<a href="{}">{}</a> · {} · {} – {} · {}', reverse("admin:bookings_booking_change", args=[b.pk]),
                       b.reference, b.get_source_display(), b.check_in, b.check_out, b.get_status_display())


RESOLUTIONS = {
    R.RELOCATED: ("Keep both (a guest was relocated)",
                  "You have moved one of the guests (another place, or new dates agreed with them). The conflict "
                  "is closed; nothing else changes here. Change the dates on the platform if they moved there."),
    R.CANCELLED_OURS: ("Cancel our booking",
                       "Our booking is cancelled as an owner cancellation (everything the guest paid is refunded, "
                       "and the guest is told); the imported stay keeps the nights alone."),
    R.DECLINED_IMPORTED: ("Declined on the platform",
                          "You have cancelled or declined the stay on the platform. Our side stays as it is; "
                          "the conflict is closed. The imported stay keeps its nights closed until the platform's "
                          "calendar drops it (the next sync then cancels it here)."),
    R.ACCEPTED_OVERBOOKING: ("Accept as an overbooking",
                             "Both guests keep their booking on the same nights, knowingly (e.g. two units). "
                             "The conflict is closed and kept as a record."),
}


@admin.register(SyncConflict)
class SyncConflictAdmin(TenantScopedAdmin):
    """Conflicts, open first. Read-only rows; resolving is a page per resolution (note required)."""

    list_display = ["state_badge", "property", "platform", "check_in", "check_out", "imported_stay", "other_side",
                    "detected_at", "resolution"]
    list_filter = [ConflictStateFilter, "connection__platform", "resolution", "property"]
    search_fields = ["uid", "summary", "property__name", "other_booking__reference", "imported_booking__reference"]
    list_select_related = ["property", "connection", "imported_booking", "other_booking", "other_block"]
    csv_fields = ["property", "connection", "uid", "check_in", "check_out", "summary", "detected_at", "resolved_at",
                  "resolution", "resolution_note"]
    fields = ["state_badge", "property", "connection", "uid", ("check_in", "check_out"), "summary", "description",
              "imported_stay", "other_side", "detail", ("detected_at", "last_seen_at"), ("resolved_at", "resolution"),
              "resolved_by", "resolution_note"]
    readonly_fields = ["state_badge", "property", "connection", "uid", "check_in", "check_out", "summary",
                       "description", "imported_stay", "other_side", "detail", "detected_at", "last_seen_at",
                       "resolved_at", "resolution", "resolved_by", "resolution_note"]

    def get_ordering(self, request):
        from django.db.models import F

        return [F("resolved_at").desc(nulls_first=True), "-detected_at", "-pk"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # rows never change in a form; resolving is its own page (RESOLVE_CONFLICT)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="State", ordering="resolved_at")
    def state_badge(self, obj):
        return badge("Open", "open") if obj.resolved_at is None else badge("Resolved", "resolved")

    @admin.display(description="Platform", ordering="connection__platform")
    def platform(self, obj):
        return obj.connection.get_platform_display()

    @admin.display(description="Imported stay")
    def imported_stay(self, obj):
        if obj.imported_booking_id:
            return booking_line(obj.imported_booking)
        return Truncator(obj.summary).chars(40) or "—"

    @admin.display(description="Runs into")
    def other_side(self, obj):
        if obj.other_booking_id:
            return booking_line(obj.other_booking)
        if obj.other_block_id:
            k = obj.other_block
            return format_html('<a href="{}">{}</a> {} – {}',
                               reverse("admin:bookings_availabilityblock_change", args=[k.pk]),
                               k.get_reason_display(), k.start_date, k.end_date)
        return "— (gone)"

    def get_urls(self):
        return [
            path("<path:object_id>/resolve/<str:resolution>/", self.admin_site.admin_view(self.resolve_view),
                 name="channel_sync_syncconflict_resolve"),
            *super().get_urls(),
        ]

    def offered_resolutions(self, request, conflict) -> list[tuple[str, str, str]]:
        if conflict.resolved_at is not None or not request.user.has_perm(RESOLVE_CONFLICT):
            return []
        offered = []
        for value, (label, text) in RESOLUTIONS.items():
            if value == R.CANCELLED_OURS and not (request.user.has_perm(MANAGE_BOOKING) and conflict.other_booking_id):
                continue
            offered.append((value, label, text))
        return offered

    def change_view(self, request, object_id, form_url="", extra_context=None):
        conflict = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        extra = dict(extra_context or {})
        if conflict is not None:
            extra["resolutions"] = self.offered_resolutions(request, conflict)
        return super().change_view(request, object_id, form_url, extra)

    def resolve_view(self, request, object_id, resolution):
        """GET: what the resolution does + a required note; POST: ``resolve_conflict``; errors are messages."""
        if resolution not in RESOLUTIONS:
            raise Http404("No such resolution.")
        if not request.user.has_perm(RESOLVE_CONFLICT):
            raise PermissionDenied
        conflict = (self.get_queryset(request).select_related("property", "connection", "other_booking__guest",
                                                               "other_block")
                    .filter(pk=object_id).first()) if str(object_id).isdigit() else None
        if conflict is None:
            raise Http404("No such conflict.")
        back = HttpResponseRedirect(reverse("admin:channel_sync_syncconflict_change", args=[conflict.pk]))
        if conflict.resolved_at is not None:
            messages.error(request, "This conflict is already resolved.")
            return back
        if resolution not in {value for value, _l, _t in self.offered_resolutions(request, conflict)}:
            raise PermissionDenied
        form = ResolveConflictForm(request.POST or None)
        if request.method == "POST" and form.is_valid():

            try:
                services.resolve_conflict(conflict_id=conflict.pk, resolution=resolution, user=request.user,
                                 note=form.cleaned_data["note"])
            except (DomainError, ValidationError, ValueError) as exc:
                detail = getattr(exc, "detail", None) or "; ".join(getattr(exc, "messages", [])) or str(exc)
                messages.error(request, f"Not resolved: {detail}")
            else:
                messages.success(request, f"Conflict resolved: {RESOLUTIONS[resolution][0].lower()}.")
                return back
        label, text = RESOLUTIONS[resolution]
        refund = None
        if resolution == R.CANCELLED_OURS and conflict.other_booking_id:
            from core.money import format_money
            from payments.services import refund_quote

            quote_ = refund_quote(conflict.other_booking)
            refund = format_money(quote_.refundable, quote_.currency)
        return TemplateResponse(request, "admin/channel_sync/syncconflict/resolve.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "conflict": conflict,
            "title": label, "resolution_label": label, "resolution_text": text, "form": form, "refund": refund,
            "other_side": self.other_side(conflict),
        })


class ResolveConflictForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 70}), max_length=2000,
                           help_text="Required: what you did or agreed (kept with the conflict).")

    def clean_note(self):
        note = self.cleaned_data["note"].strip()
        if not note:
            raise ValidationError("A note is required.")
        return note


# The property's page shows the channel blocks (read-only) and the connections, after its own sections.
