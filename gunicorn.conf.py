# Gunicorn reads this file from the working directory by default (``gunicorn config.wsgi``): the server hooks of the
# multiprocess metrics (config/gunicorn_hooks.py, docs/operations.md). Command-line options still apply.
from config.gunicorn_hooks import child_exit, on_starting  # noqa: F401
