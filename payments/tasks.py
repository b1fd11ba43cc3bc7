"""Celery tasks of payments: thin wrappers around ``payments.manual`` and ``payments.services``, run by beat.

The provider calls that must not happen under a lock are queued after commit by ``payments.services`` and defined
there, re-exported here: sending a requested refund (``execute_refund``; ``execute_due_refunds`` is its sweeper)
and cancelling open card attempts (``cancel_intents``); a changed stay's difference is charged by
``charge_change_difference`` (``payments.changes``). Re-exported so that a worker, which imports only the ``tasks``
modules, knows them (tests/deploy/test_queues.py). The dependency points one way: tasks → services, manual.
"""

from celery import shared_task
from django.utils import timezone

from . import manual, services
from .changes import charge_change_difference_task as charge_change_difference
from .services import cancel_intents_task as cancel_intents
from .services import execute_refund_task as execute_refund

__all__ = ["cancel_intents", "charge_change_difference",
           "execute_due_refunds", "execute_refund", "expire_manual_payments", "process_balances",
           "process_security_deposits",
           "remind_manual_payments"]


@shared_task(acks_late=True)
def remind_manual_payments() -> int:
    return manual.send_reminders(at=timezone.now())


@shared_task(acks_late=True)
def expire_manual_payments() -> int:
    return manual.expire_overdue(at=timezone.now())


@shared_task(acks_late=True)
def execute_due_refunds() -> int:
    return services.execute_due_refunds(at=timezone.now())


@shared_task(acks_late=True)
def process_balances() -> dict:
    from . import balances

    return balances.process_balances(at=timezone.now())


@shared_task(acks_late=True)
def process_security_deposits() -> dict:
    from . import security_deposits

    return security_deposits.process_security_deposits(at=timezone.now())
