"""Two owners' worlds, a staff member and a superuser, for the tenant-boundary tests.

Owner A has two properties: ``a_prop`` (staff assigned) and ``a_other`` (not
assigned to the staff member). Every model our admins show has a row hanging
off ``a_prop`` and one off owner B's ``b_prop``, written the way the app writes
them (bookings through ``bookings.services``, manual payments through
``payments.manual``, blocks through ``bookings.blocks``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from bookings import blocks as block_services
from bookings import services
from bookings.models import Booking
from core.actor import Actor
from core.models import OutboxDelivery, OutboxEvent
from guests.services import GuestInput
from tests.factories import (
    AmenityFactory,
    DateOverrideFactory,
    OwnerFactory,
    PricingRuleFactory,
    PropertyFactory,
    StaffFactory,
    SuperuserFactory,
    future,
)


def tiny_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "teal").save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Tenant:
    owner: object
    prop: object
    booking: object
    rows: dict = field(default_factory=dict)  # model label -> the tenant's row of that model


@dataclass
class World:
    a: Tenant
    b: Tenant
    a_other: object
    staff: object
    b_staff: object
    root: object
    shared: dict  # model label -> a row of a global or infrastructure model


def build_tenant(key: str, owner, prop) -> Tenant:
    from bookings.models import TurnoverTask
    from payments import manual
    from payments.models import HostPaymentMethod, Payment, PaymentPlan, Refund, SecurityDeposit
    from properties.models import PropertyPhoto

    guest = GuestInput(f"Guest {key.upper()}", f"guest-{key}@example.com")
    booking = services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, guest=guest,
                               actor=Actor.system("test"))
    method = HostPaymentMethod.objects.create(owner=owner, kind="zelle", handle=f"pay-{key}@example.com",
                                              display_name=f"Zelle {key.upper()}")
    manual_payment = manual.choose_method(booking_id=booking.pk, method_id=method.pk, actor=Actor.guest("g@x.test"))
    payment = Payment.objects.create(booking=booking, attempt=1, amount=Decimal("10"), currency=booking.currency,
                                     status="succeeded", provider_ref=f"pi_{key}", idempotency_key=f"idem-{key}")
    refund = Refund.objects.create(payment=payment, amount=Decimal("5"), currency=booking.currency,
                                   status="succeeded", provider_ref=f"re_{key}")
    photo = PropertyPhoto.objects.create(property=prop, image=SimpleUploadedFile(f"{key}.png", tiny_png()),
                                         alt_text=f"Front {key}")
    block = block_services.create_block(property_id=prop.pk, start_date=future(40), end_date=future(43))
    task = TurnoverTask.objects.create(property=prop, booking=booking, due_date=timezone.localdate(),
                                       window_end=timezone.localdate())
    from channels.models import ChannelConnection, SyncConflict, SyncRun

    connection = ChannelConnection.objects.create(property=prop, platform="airbnb",
                                                  import_url=f"https://www.airbnb.com/calendar/ical/{key}.ics?s=x")
    run = SyncRun.objects.create(connection=connection, http_status=200, events_seen=1)
    conflict = SyncConflict.objects.create(connection=connection, property=prop, uid=f"uid-{key}@airbnb.com",
                                           check_in=future(10), check_out=future(12), summary="Reserved",
                                           other_booking=booking)
    from messaging import services as messaging
    from messaging.models import MessageSettings, MessageTemplate

    thread = messaging.post_from_guest(booking_id=booking.pk, body=f"Hello from {key}").thread
    template = MessageTemplate.objects.create(owner=owner, name=f"Welcome {key}", body="Hi {{guest_name}}")
    message_settings = MessageSettings.objects.create(property=prop, door_code=f"door-{key}")
    rows = {
        "messaging.thread": thread,
        "messaging.messagetemplate": template,
        "messaging.messagesettings": message_settings,
        "properties.property": prop,
        "properties.propertyphoto": photo,
        "properties.pricingrule": PricingRuleFactory(property=prop, name=f"Weekend {key}"),
        "properties.dateoverride": DateOverrideFactory(property=prop, nightly_price=Decimal("150")),
        "bookings.availabilityblock": block,
        "bookings.turnovertask": task,
        "bookings.booking": booking,
        "bookings.bookingevent": booking.events.first(),
        "guests.guest": booking.guest,
        "payments.payment": payment,
        "payments.refund": refund,
        "payments.hostpaymentmethod": method,
        "payments.manualpayment": manual_payment,
        "payments.paymentplan": PaymentPlan.objects.get(booking=booking),  # written when the manual method was chosen
        "payments.securitydeposit": SecurityDeposit.objects.create(
            booking=booking, amount=Decimal("100"), currency=booking.currency, release_on=future(15),
            idempotency_key=f"deposit-{key}", provider_ref=f"pi_deposit_{key}"),
        "channel_sync.channelconnection": connection,
        "channel_sync.syncrun": run,
        "channel_sync.syncconflict": conflict,
    }
    return Tenant(owner=owner, prop=prop, booking=booking, rows=rows)


@pytest.fixture
def world(db, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    owner_a = OwnerFactory(email="owner-a@example.com", full_name="Alice Owner")
    owner_b = OwnerFactory(email="owner-b@example.com", full_name="Bob Owner")
    a_prop = PropertyFactory(owner=owner_a, name="Alpha Loft", city="Lisbon")
    a_other = PropertyFactory(owner=owner_a, name="Alpha Cabin", city="Lisbon")
    b_prop = PropertyFactory(owner=owner_b, name="Bravo Villa", city="Bravoville")
    staff = StaffFactory(email="staff-a@example.com", full_name="Sam Staff", employer=owner_a, properties=[a_prop])
    b_staff = StaffFactory(email="staff-b@example.com", full_name="Bea Staff", employer=owner_b, properties=[b_prop])
    a = build_tenant("a", owner_a, a_prop)
    b = build_tenant("b", owner_b, b_prop)
    a.rows["guests.user"], b.rows["guests.user"] = staff, b_staff
    amenity = AmenityFactory(code="wifi", name="Wi-Fi")
    a_prop.amenities.add(amenity)
    event = OutboxEvent.objects.first()
    OutboxDelivery.objects.create(event=event, consumer="tenancy-test")
    from bookings.models import IdempotencyKey
    from payments.models import WebhookEvent

    shared = {
        "properties.amenity": amenity,
        "core.outboxevent": event,
        "core.outboxdelivery": OutboxDelivery.objects.first(),
        "bookings.idempotencykey": IdempotencyKey.objects.create(scope="t", key="k", request_hash="0" * 64),
        "payments.webhookevent": WebhookEvent.objects.create(event_id="evt_t", type="x"),
    }
    assert Booking.objects.count() == 2
    return World(a=a, b=b, a_other=a_other, staff=staff, b_staff=b_staff,
                 root=SuperuserFactory(email="root@example.com"), shared=shared)


@pytest.fixture(autouse=True)
def _clear_cache(clear_cache):
    """Rate limits, throttles and used TOTP codes live in the cache: each test starts empty."""
