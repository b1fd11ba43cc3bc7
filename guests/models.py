"""People: user accounts (owners, staff, guests who sign up) and guest profiles."""

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """An account. The email address is the login; there is no username."""

    username = None
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    # A staff account belongs to the owner who created it: the owner manages (and sees) only their own staff
    # in the admin, and assigns only them to their properties. Empty for owners, superusers and guests.
    employer = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="employees",
        help_text="The owner this staff account works for.",
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.full_name or self.email


class Guest(models.Model):
    """The person a booking is for. May exist without an account (guest checkout,
    channel imports); ``user`` links it when the guest has one."""

    name = models.CharField(max_length=200)
    email = models.EmailField(db_index=True, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="guest_profiles")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} <{self.email}>" if self.email else self.name
