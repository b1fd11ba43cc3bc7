"""Celery application.

The broker is Redis when ``REDIS_URL`` is set, otherwise kombu's filesystem
transport under ``var/celery`` so that ``make run`` works with no services at
all while still running a real worker and beat (see ``config.settings``).
"""

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("stayhold")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect(weak=False)
def use_django_logging(**_kwargs):
    """The worker and beat log through ``settings.LOGGING`` (structured lines with the correlation id,
    docs/logging.md) instead of Celery's own formatter: connecting this signal stops Celery from taking over the
    root logger."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
