"""The reviews in the back office (tenant-scoped: owners see the reviews of their properties, staff of the ones
they are assigned to). The rows are read-only here; three small forms on a review's page call
``reviews.services``: reply publicly (``reply_review``, Owners), flag as abusive with a reason (``flag_review``,
Owners) and keep / hide / restore (``moderate_review``, Staff independent of the owner; superusers). The services
check the permission, the property's scope and moderation's independence again."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError
from core.tenancy import TenantScopedAdmin

from . import services
from .models import Review, ReviewEvent, ReviewStatus


class ReviewEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ReviewEvent
    extra = 0
    fields = ["created_at", "action", "from_status", "to_status", "actor_type", "actor_user", "actor_label", "reason",
              "cause"]
    readonly_fields = fields
    can_delete = False


class FlaggedFilter(admin.SimpleListFilter):
    title = "needs a staff decision"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("flagged", "Flagged, waiting for staff")]

    def queryset(self, request, queryset):
        if self.value() == "flagged":
            return queryset.filter(status=ReviewStatus.FLAGGED)
        return queryset


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["created_at", "property", "overall", "title", "guest_display_name", "status", "replied",
                    "flagged_at"]
    list_filter = [FlaggedFilter, "status", "overall", "property"]
    search_fields = ["booking__reference", "title", "body", "guest_display_name"]
    list_select_related = ["property"]
    date_hierarchy = "created_at"
    readonly_fields = ["booking", "property", "status", "overall", "cleanliness", "accuracy", "communication",
                       "location", "check_in", "value", "title", "body", "guest_display_name", "created_at",
                       "reply", "replied_at", "replied_by", "flag_reason", "flagged_at", "flagged_by",
                       "moderated_at", "moderated_by", "moderation_note"]
    fields = readonly_fields
    inlines = [ReviewEventInline]
    change_form_template = "admin/reviews/review/change_form.html"

    @admin.display(description="Reply", boolean=True)
    def replied(self, obj):
        return bool(obj.reply)

    def get_urls(self):
        return [
            path("<int:pk>/reply/", self.admin_site.admin_view(require_POST(self.reply_view)),
                 name="reviews_review_reply"),
            path("<int:pk>/flag/", self.admin_site.admin_view(require_POST(self.flag_view)),
                 name="reviews_review_flag"),
            path("<int:pk>/moderate/", self.admin_site.admin_view(require_POST(self.moderate_view)),
                 name="reviews_review_moderate"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = request.user
        review = self.get_queryset(request).select_related("property").filter(pk=object_id).first()
        extra = {
            "can_reply": user.has_perm(services.REPLY_PERMISSION),
            "can_flag": user.has_perm(services.FLAG_PERMISSION) and review is not None
            and review.status == ReviewStatus.PUBLISHED and review.moderated_at is None,
            "can_moderate": user.has_perm(services.MODERATE_PERMISSION) and review is not None
            and services.is_independent_of(user, review.property),
            "review": review,
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def _act(self, request, pk, call, done: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        review = self.get_queryset(request).filter(pk=pk).first()
        if review is None:
            raise Http404("No such review.")
        try:
            call(review)
        except DomainError as exc:
            self.message_user(request, f"Review {review.pk}: {exc.detail}", messages.ERROR)
        else:
            self.message_user(request, f"Review {review.pk}: {done}", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:reviews_review_change", args=[review.pk]))

    def reply_view(self, request, pk):
        text = request.POST.get("reply", "")
        return self._act(request, pk, lambda r: services.set_reply(review_id=r.pk, text=text, user=request.user),
                         "reply saved." if text.strip() else "reply removed.")

    def flag_view(self, request, pk):
        reason = request.POST.get("reason", "")
        return self._act(request, pk, lambda r: services.flag_review(review_id=r.pk, reason=reason, user=request.user),
                         "flagged for staff.")

    def moderate_view(self, request, pk):
        decision = request.POST.get("decision", "")
        note = request.POST.get("note", "")
        return self._act(
            request, pk,
            lambda r: services.moderate_review(review_id=r.pk, decision=decision, user=request.user, note=note),
            {"keep": "kept.", "hide": "hidden.", "restore": "restored."}.get(decision, "done."))
