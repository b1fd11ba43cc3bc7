"""The Celery queues, one per kind of work, and which task goes to which: the one place that says so.

Why split: every task used to share Celery's one default queue, so a burst of one kind (a thousand iCal feeds due
at once, an SMTP server that answers slowly, a platform API retrying) queued in front of every other kind, among
them the outbox deliveries a booking's confirmation and channel pushes wait on. With one queue per kind, a worker
(or a group of workers) consumes each, and a backlog in one queue cannot delay another (docs/deployment.md
"Queues").

* ``channels`` — pushes to the platform APIs (Channex, Booking.com, Google): availability/rates out, reconciling,
  activating a connection. Seconds each; a slow platform must not delay emails or the outbox.
* ``imports`` — reading from the platforms: the iCal feed fetches and the API reservation pulls. Many at once
  after each dispatch (one per due connection), each up to ``CHANNEL_FETCH_TIMEOUT_SECONDS``.
* ``emails`` — every SMTP send and the jobs that only write emails.
* ``default`` — everything else: outbox delivery (database only, fast), the periodic sweepers and dispatchers, and
  the payment provider calls (refunds, cancelling intents; short, with ``STRIPE_TIMEOUT_SECONDS``).

A worker started without ``-Q`` consumes every queue of ``TASK_QUEUES`` (Celery's rule when ``task_queues`` is
set): ``make run``, the ``Procfile``'s single ``worker`` and the benchmarks' worker. ``compose.yaml`` runs one worker
per group with ``-Q``. A task that is not named in ``TASK_ROUTES`` goes to ``default``;
``tests/deploy/test_queues.py`` fails for any registered task of this project missing from the table, so that a new
task's queue is a decision, not an accident.
"""

from kombu import Exchange, Queue

DEFAULT_QUEUE = "default"
CHANNELS_QUEUE = "channels"
IMPORTS_QUEUE = "imports"
EMAILS_QUEUE = "emails"
QUEUE_NAMES = (DEFAULT_QUEUE, CHANNELS_QUEUE, IMPORTS_QUEUE, EMAILS_QUEUE)

# One direct exchange per queue, routing key = queue name: what Celery declares for a plain queue name.
TASK_QUEUES = tuple(Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUE_NAMES)

# Task name → queue. Names are the names the tasks are registered under (``@shared_task(name=…)`` or module.function).
TASK_ROUTES: dict[str, dict[str, str]] = {
    name: {"queue": queue}
    for queue, names in {
        CHANNELS_QUEUE: (
            "channels.tasks.push_connection",
            "channels.tasks.reconcile_connection",
            "channels.tasks.activate_connection",
        ),
        IMPORTS_QUEUE: (
            "channels.tasks.sync_connection_task",  # one iCal feed fetched and applied
            "channels.tasks.pull_connection",  # reservations pulled from a platform API
        ),
        EMAILS_QUEUE: (
            "bookings.tasks.send_email",
            "bookings.tasks.send_pending_emails",
            "bookings.tasks.send_pre_arrival_reminders",
            "messaging.tasks.send_scheduled_messages",
            "payments.tasks.remind_manual_payments",
        ),
        DEFAULT_QUEUE: (
            "core.tasks.deliver_outbox_event",
            "core.tasks.deliver_outbox_events",  # the events of one emit_many (a feed import), each on its own
            "core.tasks.redeliver_outbox",
            "core.tasks.heartbeat",  # /readyz's "a worker ran it": a default-queue worker (docs/operations.md)
            "bookings.tasks.expire_stale_bookings",
            "bookings.tasks.clean_idempotency_keys",
            "channels.tasks.dispatch_due_syncs",  # queues one import per due feed: cheap, must not wait behind them
            "channels.tasks.purge_sync_runs",
            "channels.tasks.push_due_changes",
            "channels.tasks.pull_due_reservations",
            "channels.tasks.reconcile_api_connections",
            "payments.tasks.expire_manual_payments",
            "payments.tasks.execute_due_refunds",
            "payments.tasks.execute_refund",
            "payments.tasks.cancel_intents",
            "payments.tasks.charge_change_difference",
            "payments.tasks.process_balances",
            "payments.tasks.process_security_deposits",
            "privacy.tasks.erase_expired_guests",
        ),
    }.items()
    for name in names
}
