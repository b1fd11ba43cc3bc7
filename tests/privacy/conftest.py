"""A guest with a full history on two owners' properties, and a second guest (tests/privacy)."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from bookings import services
from bookings.models import AvailabilityBlock, Booking, SentEmail
from core.actor import Actor
from guests.services import GuestInput
from messaging.services import post_from_guest, reply_from_owner
from payments.models import HostPaymentMethod, ManualPayment, ManualPaymentEvent, Payment, Refund
from tests.factories import OwnerFactory, PropertyFactory

ADA = GuestInput(name="Ada Lovelace", email="ada@example.com", phone="+44 20 7946 0000", country="GB")
GRACE = GuestInput(name="Grace Hopper", email="grace@example.com", phone="+1 555 0100", country="US")


@dataclass
class History:
    prop_a: object
    prop_b: object
    ada_a: Booking  # Ada's stay with owner A
    ada_b: Booking  # Ada's stay with owner B
    grace: Booking  # another guest of owner A
    payment: Payment
    refund: Refund
    manual: ManualPayment

    @property
    def ada(self):
        return self.ada_a.guest


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


def make_past(booking: Booking, days_ago: int, nights: int = 3) -> Booking:
    """Test setup only: move a stay into the past, over (production rows change through bookings.services)."""
    today = timezone.localdate()
    Booking.objects.filter(pk=booking.pk).update(check_in=today - timedelta(days=days_ago + nights),
                                                 check_out=today - timedelta(days=days_ago), status="checked_out",
                                                 payment_status="paid")
    booking.refresh_from_db()
    return booking


def _reserve(prop, guest, start, **kwargs):
    from tests.factories import future

    return services.reserve(property_id=prop.pk, check_in=future(start), check_out=future(start + 3), adults=2,
                            guest=guest, actor=Actor.system("test"), **kwargs)


@pytest.fixture
def owner_a(db):
    return OwnerFactory(email="owner-a@example.com")


@pytest.fixture
def owner_b(db):
    return OwnerFactory(email="owner-b@example.com")


@pytest.fixture
def history(owner_a, owner_b, django_capture_on_commit_callbacks) -> History:
    prop_a = PropertyFactory(owner=owner_a, name="Villa Alpha")
    prop_b = PropertyFactory(owner=owner_b, name="Chalet Beta")
    ada_a = _reserve(prop_a, ADA, 10, special_requests="Ada needs a cot; call +44 20 7946 0000")
    ada_b = _reserve(prop_b, ADA, 20)
    grace = _reserve(prop_a, GRACE, 30, special_requests="Grace arrives late")
    assert ada_a.guest_id == ada_b.guest_id != grace.guest_id
    for booking in (ada_a, ada_b, grace):
        services.confirm(booking_id=booking.pk, actor=Actor.system("test"))
    # an audit row quoting the address (the resend's reason) and one by the guest (label = address)
    services.resend_confirmation(booking_id=ada_a.pk, actor=Actor.system("test"))
    services.revoke_guest_links(booking_id=ada_a.pk, actor=Actor.guest("ada@example.com"))
    post_from_guest(booking_id=ada_a.pk, body="Hello, this is Ada Lovelace, ada@example.com")
    reply_from_owner(booking_id=ada_a.pk, user=owner_a, body="Welcome, Ada Lovelace! Call us on +44 20 7946 0000.")
    post_from_guest(booking_id=grace.pk, body="Hi from Grace")
    payment = Payment.objects.create(booking=ada_a, attempt=1, amount=ada_a.total, currency=ada_a.currency,
                                     status="partially_refunded", provider_ref="pi_secret_ada",
                                     idempotency_key="idem-ada", amount_refunded=Decimal("10"),
                                     succeeded_at=timezone.now())
    refund = Refund.objects.create(payment=payment, amount=Decimal("10"), currency=ada_a.currency,
                                   status="succeeded", provider_ref="re_ada", actor_label="ada@example.com",
                                   reason="Goodwill for Ada Lovelace")
    method = HostPaymentMethod.objects.create(owner=owner_b, kind="zelle", handle="pay@owner-b.example",
                                              display_name="Owner B")
    manual = ManualPayment.objects.create(booking=ada_b, method=method, amount=Decimal("50"), currency="EUR",
                                          code="ADAPAY23", status="confirmed", guest_reference="From A. Lovelace",
                                          deadline=timezone.now())
    manual.proof.save("proof-ada.png", ContentFile(b"\x89PNG fake"), save=True)
    ManualPaymentEvent.objects.create(payment=manual, from_status="pending", to_status="claimed",
                                      actor_type="guest", actor_label="ada@example.com", ip="203.0.113.7")
    SentEmail.objects.create(booking=ada_a, kind="pre_arrival", dedupe_key="ada-pre", to="ada@example.com",
                             data={"guest_name": "Ada Lovelace", "door_code": "1234"}, status="sent",
                             sent_at=timezone.now())
    SentEmail.objects.create(booking=ada_a, kind="owner_new_booking", dedupe_key="ada-owner",
                             to="owner-a@example.com", data={"guest_name": "Ada Lovelace"}, status="sent")
    SentEmail.objects.create(booking=ada_a, kind="thank_you", dedupe_key="ada-later", to="ada@example.com",
                             data={"guest_name": "Ada Lovelace"})
    from bookings.models import TurnoverTask

    TurnoverTask.objects.update_or_create(booking=ada_a, defaults={
        "property": prop_a, "due_date": ada_a.check_out, "window_end": ada_a.check_out,
        "notes": "Ada Lovelace left a phone charger"})
    from channels.models import ChannelConnection, SyncConflict

    connection = ChannelConnection.objects.create(property=prop_a, platform="airbnb",
                                                  import_url="https://www.airbnb.com/calendar/ical/1.ics?s=secret")
    SyncConflict.objects.create(connection=connection, property=prop_a, uid="ada@airbnb.com",
                                check_in=ada_a.check_in, check_out=ada_a.check_out,
                                summary="Reserved - Ada Lovelace", other_booking=ada_a)
    AvailabilityBlock.objects.create(property=prop_a, start_date=ada_a.check_out + timedelta(days=60),
                                     end_date=ada_a.check_out + timedelta(days=62), reason="channel",
                                     connection=connection.pk, external_summary="Airbnb: Ada Lovelace")
    for booking in (ada_a, ada_b, grace):
        booking.refresh_from_db()
    return History(prop_a=prop_a, prop_b=prop_b, ada_a=ada_a, ada_b=ada_b, grace=grace, payment=payment,
                   refund=refund, manual=manual)


@pytest.fixture
def past(history) -> History:
    """The same history, every stay over."""
    make_past(history.ada_a, 400)
    make_past(history.ada_b, 300)
    make_past(history.grace, 200)
    return history
