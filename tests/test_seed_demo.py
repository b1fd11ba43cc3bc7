"""``seed_demo``: the demo data set is complete, consistent and idempotent."""

import io
from itertools import pairwise

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from bookings.models import AvailabilityBlock, Booking, BookingEvent, BookingStatus
from core.models import OutboxEvent
from guests.models import Guest, User
from properties.models import DateOverride, PricingRule, Property, PropertyPhoto
from reviews.models import Review, ReviewEvent

pytestmark = pytest.mark.django_db
S = BookingStatus


def snapshot():
    return {
        model.__name__: model.objects.count()
        for model in (User, Group, Guest, Property, PropertyPhoto, PricingRule, DateOverride, AvailabilityBlock,
                      Booking, BookingEvent, OutboxEvent, Review, ReviewEvent)
    } | {"statuses": sorted(Booking.objects.values_list("reference", "status"))}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_seed_demo_builds_a_consistent_data_set_and_a_second_run_changes_nothing(
        media, django_capture_on_commit_callbacks, mailoutbox):
    out = io.StringIO()
    # As under `make run`: every commit's callbacks run (outbox delivery; in the tests Celery runs inline, so
    # whatever the consumers decide is sent at once).
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=out)
    first = snapshot()

    second_out = io.StringIO()
    call_command("seed_demo", stdout=second_out)

    # Idempotent: nothing new, nothing changed.
    assert snapshot() == first
    assert "created 0 users, 0 properties, 0 photos, 0 bookings" in second_out.getvalue()

    # Reviews (reviews.services): of checked-out stays only, a reply on each reviewed property, one flagged.
    reviews = Review.objects.select_related("booking")
    assert reviews.count() >= 10 and all(r.booking.status == S.CHECKED_OUT for r in reviews)
    assert reviews.filter(status="flagged").count() == 1
    assert reviews.exclude(reply="").count() == reviews.values("property").distinct().count()

    # Users: an admin, two owners, a staff member assigned to properties; the documented password works.
    assert first["User"] == 4
    admin = User.objects.get(email="admin@demo.stayhold.test")
    assert admin.is_superuser and admin.check_password("demo-pass-1234")
    owners = User.objects.filter(email__in=["owner1@demo.stayhold.test", "owner2@demo.stayhold.test"])
    assert all(owner.properties.exists() and owner.is_staff and not owner.is_superuser for owner in owners)
    staff = User.objects.get(email="staff@demo.stayhold.test")
    assert staff.assigned_properties.exists() and not staff.properties.exists()
    # They can use the admin (which scopes rows to their properties): owners edit, staff view and block.
    owner = owners.first()
    assert owner.has_perms(["properties.change_property", "bookings.add_availabilityblock", "bookings.view_booking"])
    assert not owner.has_perm("bookings.change_booking")
    assert staff.has_perms(["properties.view_property", "bookings.add_availabilityblock", "bookings.view_booking"])
    assert not staff.has_perm("properties.change_property")

    # Properties: about a dozen, in 4+ cities and currencies, with photos, rules of every kind, overrides, blocks.
    active = Property.objects.active()
    assert 10 <= active.count() <= 14
    assert active.values("city").distinct().count() >= 4
    assert {"EUR", "USD", "JPY", "ZAR", "GBP"} <= set(active.values_list("currency", flat=True))
    for prop in active:
        assert 2 <= prop.photos.count() <= 4, prop.slug
        assert prop.amenities.exists() and prop.description and prop.house_rules
        assert (media / prop.photos.first().image.name).is_file()
        # issue 15 §8: the seed's photos get their WebP renditions (made after each property's commit)
        for photo in prop.photos.all():
            assert photo.has_current_renditions(), photo
            assert all((media / r["name"]).is_file() for r in photo.renditions["webp"])
    assert set(PricingRule.objects.values_list("kind", flat=True)) == set(PricingRule.Kind.values)
    assert DateOverride.objects.exists()
    assert AvailabilityBlock.objects.values("property").distinct().count() >= 2
    assert active.filter(min_stay__gte=2).exists()
    assert active.filter(buffer_days__gte=1).exists()
    assert active.filter(min_lead_days__gte=1).exists()
    assert active.filter(checkin_weekdays=1 << 5, checkout_weekdays=1 << 5).exists()  # Saturday to Saturday
    assert Property.objects.exclude(status=Property.Status.ACTIVE).exists()  # a draft the site must not show

    # Bookings: from many sources and in every interesting state, all written by the services.
    sources = set(Booking.objects.values_list("source", flat=True))
    assert len(sources) >= 4
    assert {"direct", "owner", "airbnb", "booking_com", "fewo_direkt", "expedia"} <= sources
    statuses = set(Booking.objects.values_list("status", flat=True))
    assert {S.CONFIRMED, S.RESERVED, S.HELD, S.CANCELLED, S.CHECKED_IN, S.CHECKED_OUT} <= statuses
    assert not Booking.objects.filter(events__isnull=True).exists()  # every booking has its audit trail
    assert OutboxEvent.objects.filter(topic="booking.created").count() == Booking.objects.count()
    assert Booking.objects.filter(source="airbnb").exclude(external_id="").exists()

    # A year of history for the reports: past stays checked out, direct ones paid by a verified manual payment,
    # and their cleanings done.
    from datetime import date, timedelta

    from bookings.models import TurnoverTask
    from payments.models import ManualPayment

    year_ago = date.today() - timedelta(days=300)
    past = Booking.objects.filter(status=S.CHECKED_OUT, check_out__lt=date.today() - timedelta(days=20))
    assert past.filter(check_in__lt=year_ago).exists()
    assert past.count() >= 5 * active.count()
    assert {"direct", "airbnb", "booking_com"} <= set(past.values_list("source", flat=True))
    assert not past.filter(source="direct").exclude(payment_status="paid").exists()
    assert ManualPayment.objects.filter(status="confirmed", booking__in=past).count() == past.filter(
        source="direct").count()
    # Every stay that has ended had its cleaning done, on its own day, through the turnover service: the
    # dashboard shows nothing overdue and the calendar's past is not red.
    ended = Booking.objects.filter(status=S.CHECKED_OUT, check_out__lt=date.today())
    done = TurnoverTask.objects.filter(status="done")
    assert ended.count() >= 5 * active.count()
    assert set(done.values_list("booking", flat=True)) == set(ended.values_list("pk", flat=True))
    assert not TurnoverTask.objects.filter(status="open", due_date__lt=date.today()).exists()
    assert all(task.done_at.date() in (task.due_date, task.due_date + timedelta(days=1)) for task in done)
    assert TurnoverTask.objects.filter(status="open", due_date__gte=date.today()).exists()  # the coming stays'

    # History notifies nobody: no "manual payment to verify" for payments verified a year ago, no "thank you for
    # staying" for old stays, no "new booking" for the demo's bookings; the outbox is delivered all the same.
    from bookings.models import SentEmail

    assert SentEmail.objects.count() == 0
    assert mailoutbox == []
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()

    # Channel connections: owner 1's active properties have export-only Airbnb and Booking.com calendars, and one
    # Airbnb calendar carries the platform's rolling "not available" window as a channel block; the first one is
    # connected to Channex through the API too (the emulator `make run` starts; unreachable in this test).
    from channels.models import ChannelConnection, Transport

    owner1 = User.objects.get(email="owner1@demo.stayhold.test")
    owner1_active = active.filter(owner=owner1)
    assert ChannelConnection.objects.filter(property__owner=owner1, transport=Transport.ICAL).count() == (
        2 * owner1_active.count())
    channex = ChannelConnection.objects.get(transport=Transport.CHANNEX)
    assert channex.property == owner1_active.order_by("pk").first() and channex.credential("api_key")
    assert not ChannelConnection.objects.exclude(import_url="").exists()
    assert AvailabilityBlock.objects.filter(reason="channel", connection__platform="airbnb").count() == 1

    # Money: every booking total is the sum of its parts; JPY has no minor unit.
    for booking in Booking.objects.all():
        assert booking.total == booking.subtotal - booking.discounts + booking.fees + booking.taxes
    jpy = Booking.objects.filter(currency="JPY")
    assert jpy.exists()
    for booking in jpy:
        for amount in (booking.total, booking.subtotal, booking.fees, booking.taxes, booking.discounts):
            assert amount == amount.to_integral_value(), (booking.reference, amount)

    # No two occupying bookings share a night; no booking sits on an owner block.
    for prop in Property.objects.all():
        stays = sorted(Booking.objects.filter(property=prop).occupying().values_list("check_in", "check_out"))
        for (_in1, out1), (in2, _out2) in pairwise(stays):
            assert out1 <= in2, (prop.slug, stays)
        for block in prop.blocks.all():
            assert not Booking.objects.filter(property=prop).occupying().overlapping(
                block.start_date, block.end_date
            ).exists()

    # It prints where to go and how to sign in.
    text = out.getvalue()
    for expected in ("http://127.0.0.1:8000/", "/admin/", "/api/docs/", "owner1@demo.stayhold.test",
                     "demo-pass-1234"):
        assert expected in text
