"""Settings of the gunicorn process that ``make bench`` starts for the guest-page rows. Bench only.

The production settings, plus a URLconf with the framework's floor (``bench.urls``) and,
when ``BENCH_STATIC_ROOT`` is set, the temporary directory that the bench fills with
``collectstatic`` (with ``DJANGO_DEBUG=false`` whitenoise's manifest storage needs one).
Never used by ``make run``, the tests or production.
"""

import os

from config.settings import *  # noqa: F403 - the production settings, unchanged apart from the two below
from config.settings import STATIC_ROOT as _STATIC_ROOT

ROOT_URLCONF = "bench.urls"
STATIC_ROOT = os.environ.get("BENCH_STATIC_ROOT") or _STATIC_ROOT
