"""The basic admin: every model opens, bookings change only through the services, blocks are checked."""

import io
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bookings import blocks as block_services
from bookings import services
from bookings.models import (
    AvailabilityBlock,
    Booking,
    BookingEvent,
    BookingStatus,
    IdempotencyKey,
)
from core.actor import Actor
from core.models import OutboxDelivery, OutboxEvent
from guests.models import Guest
from guests.services import GuestInput
from properties import services as property_services
from properties.models import PricingRule, PropertyPhoto
from tests.factories import (
    AmenityFactory,
    DateOverrideFactory,
    PricingRuleFactory,
    PropertyFactory,
    UserFactory,
    future,
)

pytestmark = pytest.mark.django_db
S = BookingStatus
OUR_APPS = {"core", "guests", "properties", "bookings", "payments", "channel_sync"}


def tiny_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "teal").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def superuser(db):
    return UserFactory(email="root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def client_as(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def everything(settings, tmp_path, prop, book):
    """One row of every model our admins register, written the way the app writes them."""
    settings.MEDIA_ROOT = tmp_path
    prop.amenities.add(AmenityFactory(code="wifi", name="Wi-Fi"))
    PropertyPhoto.objects.create(property=prop, image=SimpleUploadedFile("p.png", tiny_png()), alt_text="Front")
    PricingRuleFactory(property=prop)
    DateOverrideFactory(property=prop, nightly_price=Decimal("150"))
    block_services.create_block(property_id=prop.pk, start_date=future(40), end_date=future(43))
    booking = book(prop, start=10, nights=3)
    event = OutboxEvent.objects.first()
    OutboxDelivery.objects.create(event=event, consumer="test-consumer")
    IdempotencyKey.objects.create(scope="bookings:anon", key="k-1", request_hash="0" * 64, response_status=201)
    from payments.models import Payment, Refund, WebhookEvent  # rows of the payments admin (test setup only)

    payment = Payment.objects.create(booking=booking, attempt=1, amount=booking.total, currency=booking.currency,
                                     status="succeeded", provider_ref="pi_admin", idempotency_key="admin-1")
    Refund.objects.create(payment=payment, amount=Decimal("10"), currency=booking.currency, status="succeeded",
                          provider_ref="re_admin")
    WebhookEvent.objects.create(event_id="evt_admin", type="payment_intent.succeeded")
    from payments.models import HostPaymentMethod, ManualPayment, ManualPaymentEvent

    method = HostPaymentMethod.objects.create(owner=prop.owner, kind="zelle", handle="z@example.com", display_name="Z")
    manual_payment = ManualPayment.objects.create(booking=booking, method=method, amount=booking.total,
                                                  currency=booking.currency, code="ADMN2345",
                                                  deadline=booking.expires_at)
    ManualPaymentEvent.objects.create(payment=manual_payment, to_status="pending")
    from payments.models import PaymentPlan, SecurityDeposit

    PaymentPlan.objects.create(booking=booking, deposit=booking.total)
    SecurityDeposit.objects.create(booking=booking, amount=Decimal("100"), currency=booking.currency,
                                   release_on=booking.check_out, idempotency_key="admin-deposit")
    from bookings.models import TurnoverTask  # normally made by the turnover consumer (test setup only)

    TurnoverTask.objects.create(property=prop, booking=booking, due_date=booking.check_out,
                                window_end=booking.check_out)
    from channels.models import ChannelConnection, SyncConflict, SyncRun

    connection = ChannelConnection.objects.create(property=prop, platform="booking_com",
                                                  import_url="https://admin.booking.com/hotel/ical/1.ics?t=secret")
    SyncRun.objects.create(connection=connection, http_status=200, events_seen=2, created=1)
    SyncConflict.objects.create(connection=connection, property=prop, uid="abc@booking.com", check_in=booking.check_in,
                                check_out=booking.check_out, summary="CLOSED - Ann", other_booking=booking)
    return booking


def our_models():
    return [model for model in admin.site._registry if model._meta.app_label in OUR_APPS]


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_model_of_ours_is_registered():
    names = {f"{m._meta.app_label}.{m.__name__}" for m in our_models()}
    assert names >= {
        "guests.User", "guests.Guest", "properties.Amenity", "properties.Property", "properties.PropertyPhoto",
        "properties.DateOverride", "bookings.AvailabilityBlock", "properties.PricingRule", "bookings.Booking",
        "bookings.BookingEvent", "core.OutboxEvent", "core.OutboxDelivery", "bookings.IdempotencyKey",
        "channel_sync.ChannelConnection", "channel_sync.SyncRun", "channel_sync.SyncConflict",
    }


def test_superuser_opens_the_changelist_and_change_page_of_every_model(everything, superuser, client_as):
    client = client_as(superuser)
    for model in our_models():
        assert client.get(admin_url(model, "changelist")).status_code == 200, model
        obj = model._default_manager.first()
        assert obj is not None, f"no {model.__name__} row to open"
        assert client.get(admin_url(model, "change", obj.pk)).status_code == 200, model
    assert client.get(admin_url(AvailabilityBlock, "add")).status_code == 200
    assert client.get(admin_url(type(everything.property), "add")).status_code == 200


def test_bookings_cannot_be_added_edited_or_deleted_in_the_admin(everything, superuser, client_as):
    client = client_as(superuser)
    assert client.get(admin_url(Booking, "add")).status_code == 403
    assert client.get(admin_url(Booking, "delete", everything.pk)).status_code == 403
    response = client.post(admin_url(Booking, "change", everything.pk), {"status": S.CONFIRMED})
    assert response.status_code == 403
    everything.refresh_from_db()
    assert everything.status == S.RESERVED
    for model in (BookingEvent, OutboxEvent, IdempotencyKey):
        assert client.get(admin_url(model, "add")).status_code == 403


def test_booking_changelist_runs_a_bounded_number_of_queries(prop, book, superuser, client_as,
                                                              django_assert_max_num_queries):
    client = client_as(superuser)
    book(prop, start=5, nights=2)
    with django_assert_max_num_queries(12) as few:
        assert client.get(admin_url(Booking, "changelist")).status_code == 200
    for start in range(10, 40, 3):
        book(prop, start=start, nights=2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(admin_url(Booking, "changelist"))
    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == 11


def run_action(client, action, bookings):
    return client.post(admin_url(Booking, "changelist"),
                       {"action": action, "_selected_action": [b.pk for b in bookings]}, follow=True)


def test_confirm_action_goes_through_the_service_and_records_the_admin_user(prop, book, superuser, client_as):
    booking = book(prop, start=10, nights=3)

    response = run_action(client_as(superuser), "confirm_selected", [booking])

    booking.refresh_from_db()
    assert booking.status == S.CONFIRMED and booking.confirmed_at is not None
    event = BookingEvent.objects.filter(booking=booking).latest("id")
    assert (event.from_status, event.to_status, event.actor_user) == (S.RESERVED, S.CONFIRMED, superuser)
    assert OutboxEvent.objects.filter(topic="booking.updated", aggregate_id=str(booking.pk)).exists()
    assert booking.reference in response.content.decode()


def test_cancel_action_goes_through_the_service(prop, book, superuser, client_as):
    booking = book(prop, start=10, nights=3)

    client_as(superuser).post(admin_url(Booking, "cancel", booking.pk),  # the cancel page (refund + reason)
                              {"refund": "full", "reason": "Cancelled in the admin."})

    booking.refresh_from_db()
    assert booking.status == S.CANCELLED
    assert "in the admin" in booking.cancellation_reason
    event = BookingEvent.objects.filter(booking=booking).latest("id")
    assert (event.to_status, event.actor_user) == (S.CANCELLED, superuser)
    assert OutboxEvent.objects.filter(topic="booking.cancelled", aggregate_id=str(booking.pk)).exists()


def test_an_illegal_transition_in_an_action_is_a_message_and_changes_nothing(prop, book, superuser, client_as):
    booking = book(prop, start=10, nights=3)
    services.cancel(booking_id=booking.pk, actor=Actor.system("test"), reason="test")
    events = BookingEvent.objects.count()

    response = run_action(client_as(superuser), "confirm_selected", [booking])

    assert response.status_code == 200
    assert "cannot go from" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == S.CANCELLED
    assert BookingEvent.objects.count() == events


def block_form(prop, start, end, **extra):
    return {"property": prop.pk, "start_date": start.isoformat(), "end_date": end.isoformat(),
            "reason": "maintenance", "note": "Boiler", **extra}


def test_owner_block_over_a_booked_range_shows_an_error_and_creates_nothing(prop, book, superuser, client_as):
    booking = book(prop, start=10, nights=3)
    outbox_before = OutboxEvent.objects.count()

    response = client_as(superuser).post(admin_url(AvailabilityBlock, "add"),
                                         block_form(prop, future(11), future(15)))

    assert response.status_code == 200  # the form again, with the error
    assert "These nights are booked" in response.content.decode()
    assert booking.reference in response.content.decode()
    assert not AvailabilityBlock.objects.exists()
    assert OutboxEvent.objects.count() == outbox_before


def test_service_refusal_after_the_form_check_is_a_message_not_a_500(prop, book, superuser, client_as, monkeypatch):
    """If a booking slips in between the form's check and the locked write, the service's answer is shown."""
    from bookings import block_admin as properties_admin

    monkeypatch.setattr(properties_admin, "booked_nights_error", lambda *args: None)
    book(prop, start=10, nights=3)

    response = client_as(superuser).post(admin_url(AvailabilityBlock, "add"),
                                         block_form(prop, future(11), future(15)), follow=True)

    assert response.status_code == 200
    assert "was not saved" in response.content.decode()
    assert not AvailabilityBlock.objects.exists()


def test_owner_block_in_the_admin_is_created_and_deleted_through_the_services(prop, superuser, client_as):
    client = client_as(superuser)

    response = client.post(admin_url(AvailabilityBlock, "add"), block_form(prop, future(20), future(23)))

    assert response.status_code == 302
    block = AvailabilityBlock.objects.get()
    assert (block.start_date, block.end_date, block.created_by) == (future(20), future(23), superuser)
    assert OutboxEvent.objects.filter(topic="availability.updated").count() == 1

    response = client.post(admin_url(AvailabilityBlock, "delete", block.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not AvailabilityBlock.objects.exists()
    assert OutboxEvent.objects.filter(topic="availability.updated").count() == 2


def test_pricing_rule_saved_in_the_admin_announces_pricing_updated(prop, superuser, client_as):
    response = client_as(superuser).post(admin_url(PricingRule, "add"), {
        "property": prop.pk, "name": "Weekend", "kind": "weekend", "adjustment": "percent", "value": "12",
        "priority": "0", "active": "on", "weekend_days": ["4", "5"],
    })

    assert response.status_code == 302
    rule = PricingRule.objects.get()
    assert rule.weekend_days == (1 << 4) | (1 << 5)
    assert OutboxEvent.objects.filter(topic="pricing.updated", aggregate_id=str(prop.pk)).count() == 1


def test_owner_sees_only_their_own_properties_and_bookings(prop, book, client_as):
    from django.contrib.auth.models import Permission

    owner = prop.owner
    owner.is_staff = True
    owner.save()
    owner.user_permissions.add(*Permission.objects.filter(codename__in=["view_property", "view_booking"]))
    mine = book(prop, start=10, nights=3)
    other_prop = PropertyFactory(name="Someone Else's House")
    theirs = book(other_prop, start=10, nights=3, guest=GuestInput("Bo Jensen", "bo@example.com"))
    client = client_as(owner)

    page = client.get(admin_url(Booking, "changelist")).content.decode()
    assert mine.reference in page and theirs.reference not in page
    page = client.get(admin_url(type(prop), "changelist")).content.decode()
    assert prop.name in page and other_prop.name not in page
    assert client.get(admin_url(Booking, "change", theirs.pk)).status_code == 302  # "doesn't exist" redirect
    assert client.get(admin_url(Booking, "change", mine.pk)).status_code == 200


def test_user_admin_creates_an_email_login_user(superuser, client_as):
    from guests.models import User

    response = client_as(superuser).post(admin_url(User, "add"), {
        "email": "new.owner@example.com", "full_name": "New Owner", "usable_password": "true",
        "password1": "a-Long-pass-9876", "password2": "a-Long-pass-9876",
    })

    assert response.status_code == 302
    user = User.objects.get(email="new.owner@example.com")
    assert user.check_password("a-Long-pass-9876")
    assert Guest.objects.count() == 0


def test_outbox_deliver_now_action_delivers_through_the_outbox(prop, superuser, client_as):
    from core import outbox

    seen = []
    outbox.consumer("admin-test", topics=["pricing.updated"])(lambda event: seen.append(event.pk))
    try:
        property_services.announce_pricing(prop)
        event = OutboxEvent.objects.get(topic="pricing.updated")
        response = client_as(superuser).post(admin_url(OutboxEvent, "changelist"),
                                             {"action": "deliver_now", "_selected_action": [event.pk]}, follow=True)
    finally:
        outbox.unregister("admin-test")

    assert response.status_code == 200
    event.refresh_from_db()
    assert event.delivered_at is not None
    assert OutboxDelivery.objects.filter(event=event, consumer="admin-test").exists()
    assert seen == [event.pk]
    assert "1 of 1 event(s) fully delivered" in response.content.decode()


def property_form(prop, **changes):
    """The property change form as the browser would post it, with empty inlines."""
    data = {
        "name": prop.name, "slug": prop.slug, "status": prop.status, "owner": prop.owner_id,
        "description": "", "house_rules": "", "street": "", "city": prop.city, "postal_code": "", "region": "",
        "country": prop.country, "latitude": "", "longitude": "", "timezone": prop.timezone,
        "default_language": prop.default_language,
        "max_guests": prop.max_guests, "bedrooms": prop.bedrooms, "bathrooms": str(prop.bathrooms),
        "currency": prop.currency, "base_price": str(prop.base_price), "cleaning_fee": str(prop.cleaning_fee),
        "extra_guest_fee": str(prop.extra_guest_fee), "guests_included": prop.guests_included,
        "tax_rate": str(prop.tax_rate), "cancellation_policy": prop.cancellation_policy,
        "min_stay": prop.min_stay, "max_stay": prop.max_stay, "buffer_days": prop.buffer_days,
        "checkin_weekdays": [str(d) for d in range(7)], "checkout_weekdays": [str(d) for d in range(7)],
        "min_lead_days": prop.min_lead_days, "max_advance_days": prop.max_advance_days,
        "check_in_time": "15:00", "check_out_time": "11:00",
    }
    for prefix in ("photos", "pricing_rules", "date_overrides", "blocks", "blocks-2", "channel_connections",
                   "payment_schedule"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0",
                     f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
    data.update(changes)
    return data


def new_block_inline(start, end):
    return {"blocks-TOTAL_FORMS": "1", "blocks-0-start_date": start.isoformat(), "blocks-0-end_date": end.isoformat(),
            "blocks-0-reason": "owner_use", "blocks-0-note": "Family"}


def test_block_inline_on_the_property_page_is_checked_and_saved_through_the_services(prop, book, superuser,
                                                                                     client_as):
    client = client_as(superuser)
    booking = book(prop, start=10, nights=3)
    url = admin_url(type(prop), "change", prop.pk)

    refused = client.post(url, property_form(prop, **new_block_inline(future(12), future(14))))

    assert refused.status_code == 200
    assert booking.reference in refused.content.decode()
    assert not AvailabilityBlock.objects.exists()

    saved = client.post(url, property_form(prop, **new_block_inline(future(20), future(24))))

    assert saved.status_code == 302
    block = AvailabilityBlock.objects.get()
    assert (block.start_date, block.end_date, block.reason, block.created_by) == (
        future(20), future(24), "owner_use", superuser)
    assert OutboxEvent.objects.filter(topic="availability.updated", aggregate_id=str(prop.pk)).count() == 1
    assert not OutboxEvent.objects.filter(topic="pricing.updated").exists()  # nothing about prices changed


def test_changing_the_base_price_in_the_admin_announces_pricing_updated(prop, superuser, client_as):
    response = client_as(superuser).post(admin_url(type(prop), "change", prop.pk),
                                         property_form(prop, base_price="135.00"))

    assert response.status_code == 302
    prop.refresh_from_db()
    assert prop.base_price == Decimal("135.00")
    assert OutboxEvent.objects.filter(topic="pricing.updated", aggregate_id=str(prop.pk)).count() == 1


def test_moving_a_block_in_the_admin_is_checked_against_bookings(prop, book, superuser, client_as):
    client = client_as(superuser)
    booking = book(prop, start=10, nights=3)
    block = block_services.create_block(property_id=prop.pk, start_date=future(30), end_date=future(32))
    url = admin_url(AvailabilityBlock, "change", block.pk)

    refused = client.post(url, block_form(prop, future(9), future(11)))

    assert refused.status_code == 200 and booking.reference in refused.content.decode()
    assert list(AvailabilityBlock.objects.values_list("start_date", "end_date")) == [(future(30), future(32))]

    moved = client.post(url, block_form(prop, future(40), future(45)))

    assert moved.status_code == 302
    assert list(AvailabilityBlock.objects.values_list("start_date", "end_date")) == [(future(40), future(45))]
