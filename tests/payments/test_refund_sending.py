"""Requested refunds are sent after commit, exactly once: redelivered tasks, a lost answer, an early webhook."""

from decimal import Decimal

import pytest

from bookings.models import BookingStatus
from core.actor import Actor
from payments import services, tasks
from payments.models import Payment, Refund, RefundStatus
from payments.providers.stripe import StripeProvider
from tests.factories import PropertyFactory
from tests.payments.conftest import VISA
from tests.payments.test_refunds import at_days_before, stripe_refunded

pytestmark = pytest.mark.django_db
GUEST = Actor.guest("ada@example.com")


@pytest.fixture
def requested(book, card, django_capture_on_commit_callbacks):
    """A paid booking cancelled by its guest (full refund), with the on-commit send left undone: the refund is
    recorded ``pending`` and nothing has reached Stripe yet."""
    booking = book(PropertyFactory(cancellation_policy="flexible"), start=40, nights=3)
    assert services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, VISA),
                                       actor=GUEST).status == "succeeded"
    booking.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="Plans changed",
                                    at=at_days_before(booking, 5))
    assert queued, "the refund is queued for after commit"
    refund = Refund.objects.get()
    payment = Payment.objects.get(booking=booking)
    assert (refund.status, refund.provider_ref, refund.attempts) == (RefundStatus.PENDING, None, 0)
    assert stripe_refunded(payment) == 0
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.amount_refunded == booking.total
    return booking, payment, refund


def test_a_redelivered_task_does_not_refund_twice(requested):
    booking, payment, refund = requested

    assert tasks.execute_refund.delay(refund.pk).get() == RefundStatus.SUCCEEDED
    assert tasks.execute_refund.delay(refund.pk).get() == "skipped"  # the same message delivered again
    assert services.execute_due_refunds(at=refund.next_attempt_at) == 0  # the sweeper finds nothing to send

    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.provider_ref.startswith("re_") and refund.attempts == 1
    assert stripe_refunded(payment) == int(booking.total * 100)
    booking.refresh_from_db()
    assert booking.amount_refunded == booking.total and Refund.objects.count() == 1


def test_an_attempt_in_flight_is_not_started_again_by_a_redelivery(requested, monkeypatch):
    """While one worker waits for Stripe, a second delivery of the task finds the row claimed and leaves it."""
    booking, payment, refund = requested
    original = StripeProvider.refund
    nested = []

    def refund_while_redelivered(self, *args, **kwargs):
        nested.append(services.execute_refund(refund.pk))  # the duplicate arrives mid-call
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StripeProvider, "refund", refund_while_redelivered)
    services.execute_refund(refund.pk)
    assert nested == [None]
    assert stripe_refunded(payment) == int(booking.total * 100)


def worker_killed(*args, **kwargs):
    raise RuntimeError("worker killed")


def test_a_lost_answer_is_found_at_stripe_instead_of_refunding_again(requested, monkeypatch):
    """Stripe made the refund, but the worker died before recording it (here: the apply step fails once). The
    retry looks the refund up by the row id in its metadata and records it; Stripe refunds once."""
    booking, payment, refund = requested
    monkeypatch.setattr(services, "_record_refund_data", worker_killed)
    with pytest.raises(RuntimeError):
        services.execute_refund(refund.pk)
    monkeypatch.undo()
    refund.refresh_from_db()
    assert (refund.status, refund.provider_ref, refund.attempts) == (RefundStatus.PENDING, None, 1)
    assert stripe_refunded(payment) == int(booking.total * 100)  # Stripe did it

    assert services.execute_due_refunds(at=refund.next_attempt_at) == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.provider_ref.startswith("re_") and refund.attempts == 2
    assert stripe_refunded(payment) == int(booking.total * 100)  # not twice
    booking.refresh_from_db()
    assert booking.amount_refunded == booking.total


def test_a_webhook_that_beats_the_apply_step_is_matched_to_the_requested_row(requested, monkeypatch, post_event):
    booking, payment, refund = requested
    monkeypatch.setattr(services, "_record_refund_data", worker_killed)  # Stripe refunds; nothing is recorded
    with pytest.raises(RuntimeError):
        services.execute_refund(refund.pk)
    monkeypatch.undo()
    stripe_refund, = StripeProvider().client.v1.refunds.list(params={"payment_intent": payment.provider_ref}).data
    assert stripe_refund.metadata["refund_id"] == str(refund.pk)

    assert post_event("refund.created", stripe_refund.to_dict()).status_code == 200

    refund.refresh_from_db()
    assert refund.provider_ref == stripe_refund.id and refund.status == RefundStatus.SUCCEEDED
    assert Refund.objects.count() == 1  # matched, not recorded a second time
    booking.refresh_from_db()
    assert booking.amount_refunded == booking.total
    assert services.execute_due_refunds(at=refund.next_attempt_at) == 0  # nothing left to send
    assert stripe_refunded(payment) == int(booking.total * 100)


def test_the_refund_sweeper_is_scheduled_by_beat():
    # Run the migration here rather than trusting a reused test database (a transactional test flushes every
    # table, migration-made rows included). Inside the test's transaction: rolled back after.
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django_celery_beat.models import PeriodicTask

    executor = MigrationExecutor(connection)
    executor.migrate([("payments", "0005_payment_flagged")])
    assert not PeriodicTask.objects.filter(task="payments.tasks.execute_due_refunds").exists()
    executor.loader.build_graph()
    executor.migrate([("payments", "0006_refund_sending")])
    job = PeriodicTask.objects.get(task="payments.tasks.execute_due_refunds")
    assert (job.interval.every, job.interval.period, job.enabled) == (1, "minutes", True)


def test_a_goodwill_refund_is_requested_under_the_lock_and_sent_after_commit(book, card, run_on_commit):
    booking = book(PropertyFactory(), start=40, nights=3)
    services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, VISA), actor=GUEST)
    owner = Actor.for_user(booking.property.owner)
    with run_on_commit():
        refund, = services.refund_booking(booking_id=booking.pk, amount=Decimal("25"), actor=owner,
                                          reason="Broken heater")
        refund.refresh_from_db()
        assert refund.status == RefundStatus.PENDING and refund.provider_ref is None  # nothing sent before commit
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert stripe_refunded(refund.payment) == 2500
