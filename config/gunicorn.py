"""gunicorn's settings for the web process (Procfile: ``gunicorn -c config/gunicorn.py config.wsgi …``).

gunicorn's own lines (starting, booting workers, a worker timing out) come out in the project's format
(``core.logging``, docs/logging.md) instead of gunicorn's. No access log: the app's ``request`` line replaces it
(the route, not the path: gunicorn's would print every feed token and query string).
"""

import os

from core.logging import default_format, logging_config

_debug = os.environ.get("DJANGO_DEBUG", "true").strip().lower() in {"1", "true", "yes", "on"}
logconfig_dict = logging_config(os.environ.get("LOG_FORMAT") or default_format(_debug),
                                os.environ.get("LOG_LEVEL", "INFO"))
logconfig_dict["loggers"].update({
    "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
    "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
})
accesslog = None

# The server hooks of the multiprocess metrics: empty PROMETHEUS_MULTIPROC_DIR at start, mark exited workers dead.
from config.gunicorn_hooks import child_exit, on_starting  # noqa: E402, F401
