"""Gunicorn server hooks for the multiprocess metrics (docs/operations.md).

``config/gunicorn.py``, the web process's config file, imports them.

With ``PROMETHEUS_MULTIPROC_DIR`` set, every gunicorn worker writes its metric values to files in that directory and
``/metrics`` adds them up. ``on_starting`` (the master, before any worker exists and before the app is loaded)
empties the directory, so the counts of an earlier run are not added again; ``child_exit`` marks a worker that
exited as dead. Nothing here imports Django or the app.
"""

import os


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
