from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: building blocks every domain app uses and that know no domain (docs/architecture.md)."""

    name = "core"

    def ready(self):
        from celery.signals import before_task_publish, task_postrun, task_prerun, task_received

        from . import correlation, telemetry
        from .context import task_ended, task_started
        from .logging import configure_structlog

        task_prerun.connect(task_started, weak=False, dispatch_uid="core.cause.task_prerun")
        task_postrun.connect(task_ended, weak=False, dispatch_uid="core.cause.task_postrun")
        # The correlation id travels in the task's message headers (docs/logging.md).
        before_task_publish.connect(correlation.stamp_task_headers, weak=False,
                                    dispatch_uid="core.correlation.before_task_publish")
        task_received.connect(correlation.task_received, weak=False, dispatch_uid="core.correlation.task_received")
        task_prerun.connect(correlation.task_started, weak=False, dispatch_uid="core.correlation.task_prerun")
        task_postrun.connect(correlation.task_ended, weak=False, dispatch_uid="core.correlation.task_postrun")
        configure_structlog()
        # Tracing and error reporting: each off unless its environment variables are set (OTEL_*, SENTRY_DSN).
        telemetry.configure_from_settings()
