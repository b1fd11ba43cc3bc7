"""Celery application.

The broker is Redis when ``REDIS_URL`` is set, otherwise kombu's filesystem
transport under ``var/celery`` so that ``make run`` works with no services at
all while still running a real worker and beat (see ``config.settings``).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("stayhold")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
