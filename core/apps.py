from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: building blocks every domain app uses and that know no domain (docs/architecture.md)."""

    name = "core"

    def ready(self):
        from celery.signals import task_postrun, task_prerun

        from .context import task_ended, task_started

        task_prerun.connect(task_started, weak=False, dispatch_uid="core.cause.task_prerun")
        task_postrun.connect(task_ended, weak=False, dispatch_uid="core.cause.task_postrun")
