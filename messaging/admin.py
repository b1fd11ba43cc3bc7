"""The back-office inbox: threads (list with unread counts, a thread page with the timeline and the reply form),
message templates and each property's messaging settings.

Scoped like every admin (``core.tenancy``): owners see their properties' threads, staff those of the properties
they are assigned; templates belong to an owner (staff use their employer's). Replying needs
``messaging.change_thread``; the service checks the property again (``messaging.services.reply_from_owner``).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from bookings.models import Booking
from core.errors import DomainError
from core.tenancy import TenantScopedAdmin, scope_to_user
from core.uploads import private_file_response

from . import selectors, services
from .models import Message, MessageSettings, MessageTemplate, Thread


class UnreadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "unread"

    def lookups(self, request, model_admin):
        return [("yes", "Unread")]

    def queryset(self, request, queryset):
        return queryset.filter(unread__gt=0) if self.value() == "yes" else queryset


class ReplyForm(forms.Form):
    template = forms.ModelChoiceField(queryset=MessageTemplate.objects.none(), required=False,
                                      help_text="Pick one and press “Use template” to fill in the message.")
    body = forms.CharField(label="Message", required=False, max_length=services.MAX_MESSAGE_LENGTH,
                           widget=forms.Textarea(attrs={"rows": 6, "cols": 80}))
    attachment = forms.FileField(required=False, help_text="PNG, JPEG, WebP or PDF, at most 5 MB. Only the guest and "
                                                           "the people managing the property can open it.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = services.templates_for(user)


@admin.register(Thread)
class ThreadAdmin(TenantScopedAdmin):
    """The inbox. The change page is the thread: opening it marks the guest's messages read."""

    list_display = ["booking_ref", "guest", "property", "last_message", "unread_badge", "last_message_at"]
    list_filter = [UnreadFilter, "property"]
    search_fields = ["booking__reference", "booking__guest__name", "booking__guest__email"]
    list_per_page = 50
    actions: list = []

    def get_queryset(self, request):
        return selectors.inbox_threads(request.user)  # scoped, with the unread counts

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "title": "Inbox: conversations with guests"})

    @admin.display(description="Booking", ordering="booking__reference")
    def booking_ref(self, obj):
        return obj.booking.reference

    @admin.display(description="Guest")
    def guest(self, obj):
        return obj.booking.guest.name if obj.booking.guest_id else "—"

    @admin.display(description="Last message")
    def last_message(self, obj):
        who = {"guest": "Guest", "owner": "You", "system": "Automatic"}.get(obj.last_direction or "", "")
        return f"{who}: {obj.last_body}" if obj.last_body else "—"

    @admin.display(description="Unread", ordering="unread")
    def unread_badge(self, obj):
        return format_html('<strong class="unread-badge">{}</strong>', obj.unread) if obj.unread else "—"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("open/<int:booking_id>/", wrap(self.open_view), name="messaging_thread_open"),
            path("<int:thread_id>/attachment/<int:message_id>/", wrap(self.attachment_view),
                 name="messaging_thread_attachment"),
            *super().get_urls(),
        ]

    def open_view(self, request, booking_id):
        """From the booking's page: its thread, created on the first visit."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        booking = get_object_or_404(scope_to_user(Booking.objects.all(), request.user, "property"), pk=booking_id)
        thread, _ = Thread.objects.get_or_create(booking=booking, defaults={"property_id": booking.property_id})
        return HttpResponseRedirect(reverse("admin:messaging_thread_change", args=[thread.pk]))

    def attachment_view(self, request, thread_id, message_id):
        """An attachment, to the people managing the property only (404 for everyone else)."""
        if not self.has_view_permission(request):
            raise Http404("No such attachment.")
        thread = self.get_queryset(request).filter(pk=thread_id).first()
        item = (Message.objects.filter(thread=thread, pk=message_id).exclude(attachment="").first()
                if thread else None)
        if item is None:
            raise Http404("No such attachment.")
        return private_file_response(item.attachment, content_type=item.attachment_content_type,
                                     filename=item.attachment_name)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        thread = (self.get_queryset(request).select_related("booking__guest", "property")
                  .filter(pk=object_id).first() if str(object_id).isdigit() else None)
        if thread is None or not self.has_view_permission(request, thread):
            raise Http404("No such conversation.")
        may_reply = self.has_change_permission(request, thread)
        booking = thread.booking
        form = ReplyForm(user=request.user)
        status = 200
        if request.method == "POST":
            if not may_reply:
                raise PermissionDenied
            form = ReplyForm(request.POST, request.FILES, user=request.user)
            if form.is_valid():
                template = form.cleaned_data["template"]
                if "use_template" in request.POST:
                    if template is None:
                        form.add_error("template", "Pick a template first.")
                    else:
                        data = request.POST.copy()
                        data["body"] = services.render_template(template=template, booking=booking)
                        form = ReplyForm(data, user=request.user)
                        form.is_valid()
                    status = 200
                else:
                    body = form.cleaned_data["body"]
                    if not body and template is not None and not form.cleaned_data["attachment"]:
                        body = services.render_template(template=template, booking=booking)
                    try:
                        services.reply_from_owner(booking_id=booking.pk, user=request.user, body=body,
                                                  attachment=form.cleaned_data["attachment"],
                                                  template_id=template.pk if template else None)
                    except DomainError as exc:
                        form.add_error("attachment" if exc.code == "invalid_upload" else "body", exc.detail)
                        status = 400
                    else:
                        emailed = bool(booking.guest and booking.guest.email and booking.source in ("direct", "owner"))
                        messages.success(request, "Reply sent" + (" and emailed to the guest with a link to their "
                                                                   "booking page." if emailed else
                                                                   " (shown on the guest's booking page; this guest "
                                                                   "is not emailed by us)."))
                        return HttpResponseRedirect(request.path + "#reply")
            else:
                status = 400
        unread = services.mark_read_by_owner(thread_id=thread.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "title": f"Messages about {booking.reference}", "thread": thread,
            "booking": booking, "prop": thread.property, "entries": selectors.timeline(thread), "form": form,
            "may_reply": may_reply, "newly_read": unread,
            "booking_url": reverse("admin:bookings_booking_change", args=[booking.pk]),
        }
        return TemplateResponse(request, "admin/messaging/thread.html", context, status=status)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(TenantScopedAdmin):
    """An owner's templates (staff see their employer's, read-only). Unknown placeholders are refused with a field
    error (``messaging.placeholders.validate_template_body``)."""

    list_display = ["name", "owner", "created_at"]
    search_fields = ["name", "body"]

    def scope_queryset(self, queryset, request):
        return queryset.filter(pk__in=services.templates_for(request.user).values("pk"))

    def get_fields(self, request, obj=None):
        return ["owner", "name", "body"] if request.user.is_superuser else ["name", "body"]

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser and not change:
            obj.owner = request.user
        super().save_model(request, obj, form, change)

    def render_change_form(self, request, context, *args, **kwargs):
        from .placeholders import known

        context["placeholders_help"] = ", ".join("{{" + name + "}}" for name in sorted(known()))
        return super().render_change_form(request, context, *args, **kwargs)


class MessageSettingsForm(forms.ModelForm):
    class Meta:
        model = MessageSettings
        fields = ["property", "door_code", "wifi_name", "wifi_password", "send_hour", "check_in_enabled",
                  "check_in_days_before", "check_in_template", "mid_stay_enabled", "mid_stay_template",
                  "review_request_enabled", "review_days_after", "review_template"]
        widgets = {"door_code": forms.TextInput(attrs={"autocomplete": "off"}),
                   "wifi_password": forms.TextInput(attrs={"autocomplete": "off"})}


@admin.register(MessageSettings)
class MessageSettingsAdmin(TenantScopedAdmin):
    """Per property: door code and Wi-Fi (encrypted at rest) and the automatic messages, each on or off."""

    form = MessageSettingsForm
    list_display = ["property", "check_in_enabled", "mid_stay_enabled", "review_request_enabled", "send_hour"]
    list_select_related = ["property"]
    fieldsets = [
        (None, {"fields": ["property"]}),
        ("Arrival details (for {{door_code}}, {{wifi_name}}, {{wifi_password}})",
         {"fields": ["door_code", "wifi_name", "wifi_password"]}),
        ("Automatic messages", {"fields": ["send_hour", ("check_in_enabled", "check_in_days_before",
                                                         "check_in_template"),
                                           ("mid_stay_enabled", "mid_stay_template"),
                                           ("review_request_enabled", "review_days_after", "review_template")]}),
    ]
