"""Admin for accounts (email login, no username) and guest profiles.

Accounts, by role (``guests.roles``):

* a superuser sees and edits every account, with groups and permissions;
* an owner sees only themselves and the staff accounts they made
  (``User.employer``). "Add user" makes a staff account for them
  (``guests.services.invite_staff``: Staff group, ``is_staff``, an email with a
  link to choose a password); they can rename those accounts and switch them
  off, never grant groups, permissions or superuser rights, nor set passwords
  (people set their own through allauth);
* staff have no access.

Guest profiles are visible to whoever manages a property the guest booked
(``TenantScopedAdmin`` through ``bookings__property``); only superusers edit them.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db.models import Count

from core.tenancy import TenantScopedAdmin

from . import services
from .models import Guest, User
from .selectors import visible_users


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class StaffInviteForm(forms.ModelForm):
    """An owner's "add user": a staff account that sets its own password from the emailed link."""

    class Meta:
        model = User
        fields = ("email", "full_name")
        help_texts = {"email": "They get an email with a link to choose a password and then sign in."}

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email address already exists.")
        return email


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes = {}


OWNER_FIELDSETS = [(None, {"fields": ["email", "full_name", "is_active", "last_login", "date_joined"]})]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_superuser", "is_active", "employer", "property_count",
                    "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "full_name"]
    list_select_related = ["employer"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["full_name", "first_name", "last_name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "employer", "groups",
                                    "user_permissions"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "full_name", "usable_password", "password1", "password2"]}),
    ]
    readonly_fields = ["last_login", "date_joined"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).annotate(n_properties=Count("properties"))
        if request.user.is_superuser:
            return qs
        return qs.filter(pk__in=visible_users(request.user).values("pk"))

    # --- what an owner may do ---------------------------------------------------------------------

    def get_list_display(self, request):
        if request.user.is_superuser:
            return self.list_display
        return ["email", "full_name", "is_active", "last_login"]

    def get_list_filter(self, request):
        return self.list_filter if request.user.is_superuser else ["is_active"]

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        if obj is None:
            return [(None, {"classes": ["wide"], "fields": ["email", "full_name"]})]
        return OWNER_FIELDSETS

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return self.readonly_fields
        if obj is None:
            return []
        readonly = ["email", "last_login", "date_joined"]  # addresses change through allauth (verified)
        if obj.pk == request.user.pk:
            readonly.append("is_active")  # an owner cannot lock themselves out
        return readonly

    def get_form(self, request, obj=None, **kwargs):
        if obj is None and not request.user.is_superuser:
            kwargs["form"] = StaffInviteForm
            kwargs["fields"] = ["email", "full_name"]
            return admin.ModelAdmin.get_form(self, request, obj, **kwargs)
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        if change or request.user.is_superuser:
            return super().save_model(request, obj, form, change)
        invited = services.invite_staff(owner=request.user, email=obj.email, full_name=obj.full_name,
                                        request=request)
        obj.pk = invited.pk
        obj.__dict__.update(invited.__dict__)
        messages.info(request, f"{invited.email} got an email with a link to choose a password.")
        return None

    def save_related(self, request, form, formsets, change):
        if change or request.user.is_superuser:
            super().save_related(request, form, formsets, change)

    def user_change_password(self, request, id, form_url=""):
        # People choose their own passwords (allauth's reset link); only superusers set one for somebody.
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    @admin.display(description="Properties owned", ordering="n_properties")
    def property_count(self, obj):
        return obj.n_properties


@admin.register(Guest)
class GuestAdmin(TenantScopedAdmin):
    list_display = ["name", "email", "phone", "country", "user", "booking_count", "created_at"]
    list_filter = ["country"]
    search_fields = ["name", "email", "phone"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_bookings=Count("bookings"))

    def has_change_permission(self, request, obj=None):
        # Guest profiles hang off bookings; only superusers edit them here.
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        return request.user.is_superuser and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    @admin.display(description="Bookings", ordering="n_bookings")
    def booking_count(self, obj):
        return obj.n_bookings
