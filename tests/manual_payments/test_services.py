import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking, BookingStatus, PaymentStatus, SentEmail
from core.actor import Actor
from payments import manual
from payments.models import CODE_ALPHABET, ManualPayment, ManualPaymentEvent, Payment
from payments.models import ManualStatus as M
from tests.factories import UserFactory, future

from .conftest import image_bytes

GUEST = Actor.guest("ada@example.com")
pytestmark = pytest.mark.django_db


def test_choose_creates_pending_payment_and_extends_the_hold(reserved, mp, settings):
    reserved.refresh_from_db()
    assert mp.status == M.PENDING
    assert mp.amount == reserved.total and mp.currency == reserved.currency
    assert len(mp.code) == 8 and set(mp.code) <= set(CODE_ALPHABET)
    hours = settings.MANUAL_PAYMENT_TIMEOUT_HOURS
    assert abs((reserved.expires_at - timezone.now()) - timedelta(hours=hours)) < timedelta(minutes=1)
    assert mp.deadline == reserved.expires_at
    assert reserved.events.filter(reason__startswith="Manual payment by Zelle chosen").exists()
    assert list(mp.events.values_list("from_status", "to_status")) == [("", M.PENDING)]


def test_choosing_the_same_method_again_returns_the_same_payment(reserved, mp, zelle):
    again = manual.choose_method(booking_id=reserved.pk, method_id=zelle.pk, actor=GUEST)
    assert again.pk == mp.pk and ManualPayment.objects.count() == 1


def test_inactive_or_foreign_method_is_refused(reserved, zelle, owner_b):
    from payments.models import HostPaymentMethod

    zelle.active = False
    zelle.save()
    with pytest.raises(manual.PaymentNotAllowed):
        manual.choose_method(booking_id=reserved.pk, method_id=zelle.pk, actor=GUEST)
    other = HostPaymentMethod.objects.create(owner=owner_b, kind="venmo", handle="@b", display_name="B")
    with pytest.raises(manual.PaymentNotAllowed):
        manual.choose_method(booking_id=reserved.pk, method_id=other.pk, actor=GUEST)
    assert not ManualPayment.objects.exists()


def test_full_lifecycle_confirms_booking_and_emails(reserved, mp, staffer, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        manual.claim(mp_id=mp.pk, guest_reference="TX-1", actor=GUEST, ip="10.0.0.1")
    mp.refresh_from_db()
    assert mp.status == M.CLAIMED and mp.claimed_at and mp.guest_reference == "TX-1"
    to = set(SentEmail.objects.filter(kind="staff_manual_claim").values_list("to", flat=True))
    assert to == {owner.email, staffer.email}
    with django_capture_on_commit_callbacks(execute=True):
        manual.verify(mp_id=mp.pk, action="confirm", user=staffer, amount_received=mp.amount, ip="10.0.0.2")
    mp.refresh_from_db()
    reserved.refresh_from_db()
    assert mp.status == M.CONFIRMED and mp.verified_by == staffer and mp.verified_from_ip == "10.0.0.2"
    assert reserved.status == BookingStatus.CONFIRMED
    assert reserved.payment_status == PaymentStatus.PAID and reserved.amount_paid == reserved.total
    assert Payment.objects.get(booking=reserved).provider == "manual"
    assert SentEmail.objects.filter(booking=reserved, kind="confirmation").exists()
    assert list(mp.events.values_list("to_status", flat=True)) == [M.PENDING, M.CLAIMED, M.CONFIRMED]
    event = mp.events.last()
    assert event.actor_user == staffer and event.actor_type == "user" and event.ip == "10.0.0.2"
    with pytest.raises(Exception):
        event.save()


def test_amount_mismatch_is_flagged_not_confirmed(reserved, mp, staffer):
    manual.claim(mp_id=mp.pk, guest_reference="", actor=GUEST)
    manual.verify(mp_id=mp.pk, action="confirm", user=staffer, amount_received=mp.amount - Decimal("1.00"))
    mp.refresh_from_db()
    reserved.refresh_from_db()
    assert mp.status == M.FLAGGED and mp.amount_received == mp.amount - Decimal("1.00")
    assert "mismatch" in mp.events.last().reason
    assert reserved.status == BookingStatus.RESERVED and reserved.amount_paid == 0
    assert not Payment.objects.exists()


def test_reject_dispute_flag_need_a_note_and_are_audited(mp, staffer):
    manual.claim(mp_id=mp.pk, guest_reference="x", actor=GUEST)
    with pytest.raises(manual.ManualPaymentError):
        manual.verify(mp_id=mp.pk, action="reject", user=staffer, note="  ")
    manual.verify(mp_id=mp.pk, action="dispute", user=staffer, note="not in account yet")
    manual.verify(mp_id=mp.pk, action="reject", user=staffer, note="never arrived")
    mp.refresh_from_db()
    assert mp.status == M.REJECTED
    assert [e.reason for e in mp.events.all()][-2:] == ["not in account yet", "never arrived"]
    with pytest.raises(manual.InvalidManualTransition):
        manual.verify(mp_id=mp.pk, action="confirm", user=staffer, amount_received=mp.amount)


def test_duplicate_claim_is_refused_and_notifies_once(mp, owner, django_capture_on_commit_callbacks):
    manual.claim(mp_id=mp.pk, guest_reference="first", actor=GUEST)
    with pytest.raises(manual.ManualPaymentError, match="already"):
        manual.claim(mp_id=mp.pk, guest_reference="second", actor=GUEST)
    mp.refresh_from_db()
    assert mp.guest_reference == "first"
    assert SentEmail.objects.filter(kind="staff_manual_claim").count() == 1
    assert mp.events.filter(to_status=M.CLAIMED).count() == 1


def test_claim_after_deadline_is_refused(mp):
    with pytest.raises(manual.ManualPaymentError, match="run out"):
        manual.claim(mp_id=mp.pk, guest_reference="", actor=GUEST, at=mp.deadline + timedelta(seconds=1))


def test_reminder_at_half_the_timeout_once(mp, settings):
    half = timedelta(hours=settings.MANUAL_PAYMENT_TIMEOUT_HOURS) / 2
    assert manual.send_reminders(at=mp.created_at + half - timedelta(minutes=1)) == 0
    assert manual.send_reminders(at=mp.created_at + half + timedelta(minutes=1)) == 1
    assert manual.send_reminders(at=mp.created_at + half + timedelta(minutes=2)) == 0
    row = SentEmail.objects.get(kind="manual_payment_reminder")
    assert row.to == "ada@example.com" and row.data["code"] == mp.code


def test_reminder_not_sent_once_claimed(mp, settings):
    manual.claim(mp_id=mp.pk, guest_reference="", actor=GUEST)
    assert manual.send_reminders(at=mp.created_at + timedelta(hours=settings.MANUAL_PAYMENT_TIMEOUT_HOURS - 1)) == 0


def test_timeout_with_the_job_expires_payment_and_booking(prop, reserved, mp, book):
    after = mp.deadline + timedelta(minutes=1)
    assert manual.expire_overdue(at=mp.deadline - timedelta(minutes=1)) == 0
    assert manual.expire_overdue(at=after) == 1
    mp.refresh_from_db()
    reserved.refresh_from_db()
    assert mp.status == M.EXPIRED and reserved.status == BookingStatus.EXPIRED
    assert manual.expire_overdue(at=after) == 0  # idempotent


def test_timeout_without_the_job_frees_the_dates_at_read_time(prop, reserved, mp):
    after = mp.deadline + timedelta(minutes=1)
    reserved.refresh_from_db()
    assert not reserved.is_occupying(after)
    assert not Booking.objects.filter(pk=reserved.pk).occupying(after).exists()
    from guests.services import GuestInput

    other = booking_services.reserve(property_id=prop.pk, check_in=reserved.check_in, check_out=reserved.check_out,
                                     adults=2, guest=GuestInput(name="Bob", email="bob@example.com"),
                                     actor=Actor.system("test"), at=after)
    assert other.status == BookingStatus.RESERVED


def test_timeout_does_not_touch_confirmed(reserved, mp, staffer):
    manual.claim(mp_id=mp.pk, guest_reference="", actor=GUEST)
    manual.verify(mp_id=mp.pk, action="confirm", user=staffer, amount_received=mp.amount)
    assert manual.expire_overdue(at=mp.deadline + timedelta(hours=1)) == 0
    reserved.refresh_from_db()
    assert reserved.status == BookingStatus.CONFIRMED


def test_proof_validation(mp):
    too_big = SimpleUploadedFile("a.png", b"\x89PNG" + b"0" * (5 * 1024 * 1024), content_type="image/png")
    with pytest.raises(manual.InvalidProof, match="too large"):
        manual.claim(mp_id=mp.pk, guest_reference="", proof=too_big, actor=GUEST)
    fake = SimpleUploadedFile("a.png", b"%PDF-1.4 not an image", content_type="image/png")
    with pytest.raises(manual.InvalidProof, match="not a PNG"):
        manual.claim(mp_id=mp.pk, guest_reference="", proof=fake, actor=GUEST)
    gif = SimpleUploadedFile("a.png", image_bytes("GIF"), content_type="image/png")
    with pytest.raises(manual.InvalidProof):
        manual.claim(mp_id=mp.pk, guest_reference="", proof=gif, actor=GUEST)
    mp.refresh_from_db()
    assert mp.status == M.PENDING and not mp.proof
    ok = SimpleUploadedFile("shot.gif", image_bytes("JPEG"), content_type="image/gif")
    manual.claim(mp_id=mp.pk, guest_reference="", proof=ok, actor=GUEST)
    mp.refresh_from_db()
    assert mp.proof_content_type == "image/jpeg" and mp.proof.name.endswith(".jpg")


def test_proof_is_stored_privately(mp, settings):
    manual.claim(mp_id=mp.pk, guest_reference="", actor=GUEST,
                 proof=SimpleUploadedFile("p.png", image_bytes(), content_type="image/png"))
    mp.refresh_from_db()
    assert str(mp.proof.path).startswith(str(settings.PRIVATE_MEDIA_ROOT))
    assert not str(mp.proof.path).startswith(str(settings.MEDIA_ROOT))
    with pytest.raises(ValueError):
        mp.proof.url  # noqa: B018 - no public URL


@pytest.mark.django_db(transaction=True)
def test_concurrent_confirm_by_two_staff_one_wins(prop, book, zelle):
    booking = book(prop, start=20)
    mp = manual.choose_method(booking_id=booking.pk, method_id=zelle.pk, actor=GUEST)
    manual.claim(mp_id=mp.pk, guest_reference="", actor=GUEST)
    users = [UserFactory(email=f"s{i}@example.com", is_staff=True) for i in range(2)]
    barrier = threading.Barrier(2)
    results = []

    def run(user):
        try:
            barrier.wait()
            manual.verify(mp_id=mp.pk, action="confirm", user=user, amount_received=mp.amount)
            results.append("ok")
        except manual.ManualPaymentError as exc:
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["invalid_manual_transition", "ok"]
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.amount_paid == booking.total
    assert Payment.objects.filter(booking=booking).count() == 1
    assert ManualPaymentEvent.objects.filter(payment=mp, to_status=M.CONFIRMED).count() == 1
    assert booking.events.filter(to_status=BookingStatus.CONFIRMED, from_status=BookingStatus.RESERVED).count() == 1


def test_late_claimed_payment_confirms_if_dates_still_free(reserved, mp, staffer):
    manual.claim(mp_id=mp.pk, guest_reference="", actor=GUEST)
    later = mp.deadline + timedelta(hours=2)
    booking_services.expire_stale_bookings(at=later)
    reserved.refresh_from_db()
    assert reserved.status == BookingStatus.EXPIRED
    manual.verify(mp_id=mp.pk, action="confirm", user=staffer, amount_received=mp.amount, at=later)
    reserved.refresh_from_db()
    assert reserved.status == BookingStatus.CONFIRMED


def test_future_helper_sanity():
    assert future(1) > timezone.now().date()


def test_beat_jobs_are_registered_and_run(mp):
    from django_celery_beat.models import PeriodicTask

    from payments import tasks

    names = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {"payments.tasks.remind_manual_payments", "payments.tasks.expire_manual_payments"} <= names
    assert tasks.expire_manual_payments.delay().get() == 0  # nothing overdue yet
    ManualPayment.objects.filter(pk=mp.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    assert tasks.expire_manual_payments.delay().get() == 1
    mp.refresh_from_db()
    assert mp.status == M.EXPIRED


def test_cancelling_a_manually_paid_booking_records_the_refund_the_host_owes(reserved, mp, staffer, owner,
                                                                            django_capture_on_commit_callbacks):
    """No provider can send Zelle money back: the refund is recorded as pending, the booking is cancelled."""
    from payments.models import Refund, RefundStatus
    from payments.services import cancel_with_refund

    manual.claim(mp_id=mp.pk, guest_reference="TX-9", actor=GUEST)
    manual.verify(mp_id=mp.pk, action="confirm", user=staffer, amount_received=mp.amount)

    with django_capture_on_commit_callbacks(execute=True):  # "sent" to the manual provider after commit
        result = cancel_with_refund(booking_id=reserved.pk, actor=Actor.for_user(owner), reason="Owner cancelled",
                                    by_owner=True)

    reserved.refresh_from_db()
    refund = Refund.objects.get(payment__booking=reserved)
    assert reserved.status == BookingStatus.CANCELLED
    assert (refund.status, refund.amount) == (RefundStatus.PENDING, reserved.total)
    assert refund.provider_ref.startswith("manual-")
    assert result.refunded == reserved.total and reserved.amount_refunded == reserved.total
