"""The back office's privacy tools (docs/privacy.md):

* on a guest's page, "Export data (JSON)" for whoever may see the guest (an owner or their staff get the bookings of
  the properties they manage only; a superuser everything) and "Erase personal data" for superusers;
* on the accounts list, the superusers' action "Offboard owner";
* the privacy audit (read-only) and the guests' erasure requests, for superusers.

The guest and account admins are ``guests.admin``'s, extended here by subclassing and registering again: ``guests``
is a lower layer and does not know this app.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.actor import Actor
from core.admin import ReadOnlyAdminMixin
from guests.admin import GuestAdmin, UserAdmin
from guests.models import Guest, User

from . import selectors, services
from .errors import PrivacyError
from .models import ErasureRequest, PrivacyChannel, PrivacyEvent
from .views import json_download


class PrivacyGuestAdmin(GuestAdmin):
    change_form_template = "admin/privacy/guest_change_form.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/privacy/export/", wrap(self.export_view), name="guests_guest_privacy_export"),
            path("<path:object_id>/privacy/erase/", wrap(self.erase_view), name="guests_guest_privacy_erase"),
            *super().get_urls(),
        ]

    def has_erase_permission(self, request) -> bool:
        # A guest profile can span several owners' bookings: only the platform's operators erase it.
        return request.user.is_superuser

    def _guest(self, request, object_id) -> Guest:
        guest = self.get_object(request, object_id)  # tenant-scoped: another owner's guest does not exist here
        if guest is None or not self.has_view_permission(request, guest):
            raise Http404("No such guest.")
        return guest

    def export_view(self, request, object_id):
        guest = self._guest(request, object_id)
        scope = selectors.back_office_scope(guest, request.user)
        reason = request.GET.get("reason", "").strip()[:500] or "Exported from the back office."
        document = services.export_data(scope=scope, actor=Actor.for_user(request.user), channel=PrivacyChannel.ADMIN,
                                        reason=reason)
        return json_download(document, f"stayhold-personal-data-guest-{guest.pk}.json")

    def erase_view(self, request, object_id):
        if not self.has_erase_permission(request):
            raise PermissionDenied
        guest = self._guest(request, object_id)
        change_url = reverse("admin:guests_guest_change", args=[guest.pk])
        if request.method == "POST":
            try:
                services.erase_guest(guest_id=guest.pk, actor=Actor.for_user(request.user),
                                     channel=PrivacyChannel.ADMIN,
                                     reason=request.POST.get("reason", "").strip()[:500] or "Erased by an operator.")
            except PrivacyError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
                return redirect(change_url)
            self.message_user(request, f"The personal data of guest #{guest.pk} was erased.", messages.SUCCESS)
            return redirect(change_url)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "guest": guest,
                   "title": f"Erase the personal data of guest #{guest.pk}", "change_url": change_url,
                   "blockers": selectors.erasure_blockers([guest.pk]), "erased": selectors.is_erased(guest.pk),
                   "bookings": guest.bookings.count()}
        return TemplateResponse(request, "admin/privacy/erase_guest.html", context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update({
                "privacy_export_url": reverse("admin:guests_guest_privacy_export", args=[obj.pk]),
                "privacy_erase_url": (reverse("admin:guests_guest_privacy_erase", args=[obj.pk])
                                      if self.has_erase_permission(request) else ""),
                "privacy_erased": selectors.is_erased(obj.pk),
            })
        return super().render_change_form(request, context, add, change, form_url, obj)


class PrivacyUserAdmin(UserAdmin):
    actions = [*(UserAdmin.actions or []), "offboard_owner"]

    def has_offboard_permission(self, request) -> bool:
        return request.user.is_superuser

    @admin.action(description="Offboard owner: disconnect channels, archive properties, close accounts",
                  permissions=["offboard"])
    def offboard_owner(self, request, queryset):
        for user in queryset:
            try:
                event = services.offboard_owner(owner_id=user.pk, actor=Actor.for_user(request.user),
                                                reason="Offboarded from the back office.")
            except PrivacyError as exc:
                self.message_user(request, f"{user.email}: {exc.detail}", messages.ERROR)
                continue
            d = event.detail
            self.message_user(request, f"{user.email} offboarded: {d['connections_deleted']} channel connection(s) "
                              f"deleted, {d['properties_archived']} propert(ies) archived, {d['staff_deactivated']} "
                              "staff account(s) closed.", messages.SUCCESS)


admin.site.unregister(Guest)
admin.site.register(Guest, PrivacyGuestAdmin)
admin.site.unregister(User)
admin.site.register(User, PrivacyUserAdmin)


class SuperusersOnly:
    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(PrivacyEvent)
class PrivacyEventAdmin(SuperusersOnly, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "action", "channel", "guest", "subject_user", "actor_type", "actor_user", "reason"]
    list_filter = ["action", "channel", "actor_type"]
    search_fields = ["guest__id", "subject_user__email", "actor_user__email", "reason"]
    date_hierarchy = "created_at"
    list_select_related = ["guest", "subject_user", "actor_user"]


@admin.register(ErasureRequest)
class ErasureRequestAdmin(SuperusersOnly, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "user", "status", "blockers", "completed_at"]
    list_filter = ["status"]
    actions = ["complete_now"]

    def has_complete_permission(self, request):
        return request.user.is_superuser

    @admin.action(description="Erase now the ones with nothing pending", permissions=["complete"])
    def complete_now(self, request, queryset):
        done = services.complete_erasure_requests()
        self.message_user(request, f"{done} request(s) completed; the others still have something pending.")
