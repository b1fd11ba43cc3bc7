"""Factories for every model the tests touch, in one place."""

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from bookings.models import AvailabilityBlock
from guests.models import Guest, User
from guests.roles import OWNERS, STAFF
from properties.models import Amenity, DateOverride, PricingRule, Property


def future(days: int) -> date:
    """A date ``days`` after today (UTC), for stays that must be in the future."""
    return timezone.localdate() + timedelta(days=days)


def next_weekday(weekday: int, after_days: int = 0) -> date:
    """The first date with ``weekday`` (Monday 0 … Sunday 6) at least ``after_days`` after today: for tests that
    need a particular day of the week, whatever day the suite runs on (``make test-clock`` checks that)."""
    start = future(after_days)
    return start + timedelta(days=(weekday - start.weekday()) % 7)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.django.Password("pw-for-tests-1")


def in_group(group_name: str):
    """A post-generation step putting the new user in a role's group (``guests.roles``)."""

    def assign(obj, create, extracted, **kwargs):
        if create:
            from guests.roles import assign_role

            assign_role(obj, group_name)

    return factory.PostGeneration(assign)


class OwnerFactory(UserFactory):
    """A back-office owner: ``is_staff`` and the "Owners" group (``guests.roles``)."""

    email = factory.Sequence(lambda n: f"owner{n}@example.com")
    is_staff = True
    role = in_group(OWNERS)


class StaffFactory(UserFactory):
    """A staff account: ``is_staff``, the "Staff" group, and optionally its employer and properties.

    ``StaffFactory(employer=owner, properties=[prop])`` assigns it to ``prop`` (``Property.staff``)."""

    email = factory.Sequence(lambda n: f"staff{n}@example.com")
    is_staff = True
    role = in_group(STAFF)

    @factory.post_generation
    def properties(obj, create, extracted, **kwargs):
        if create and extracted:
            for prop in extracted:
                prop.staff.add(obj)


class SuperuserFactory(UserFactory):
    email = factory.Sequence(lambda n: f"root{n}@example.com")
    is_staff = True
    is_superuser = True


class GuestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Guest

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"guest{n}@example.com")


class AmenityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Amenity
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"amenity-{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("-", " ").title())


class PropertyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Property

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Seaside Cottage {n}")
    city = "Lisbon"
    country = "PT"
    max_guests = 4
    bedrooms = 2
    bathrooms = Decimal("1.5")
    base_price = Decimal("100.00")
    currency = "EUR"
    status = Property.Status.ACTIVE
    timezone = "UTC"


class PricingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PricingRule

    property = factory.SubFactory(PropertyFactory)
    name = factory.LazyAttribute(lambda o: f"{o.kind} rule")
    kind = PricingRule.Kind.WEEKEND
    adjustment = PricingRule.Adjustment.PERCENT
    value = Decimal("10")


class DateOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DateOverride

    property = factory.SubFactory(PropertyFactory)
    start_date = factory.LazyFunction(lambda: future(10))
    end_date = factory.LazyAttribute(lambda o: o.start_date + timedelta(days=7))


class BlockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AvailabilityBlock

    property = factory.SubFactory(PropertyFactory)
    start_date = factory.LazyFunction(lambda: future(10))
    end_date = factory.LazyAttribute(lambda o: o.start_date + timedelta(days=3))
