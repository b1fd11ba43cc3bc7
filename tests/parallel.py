"""Real parallel connections for race tests."""

import threading

from django.db import connection


def run_in_parallel(jobs):
    """Run each callable in ``jobs`` in its own thread with its own connection, all released at once.

    Returns a list of ("ok", value) or ("error", exception) in the order of ``jobs``.
    """
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def worker(i, job):
        try:
            connection.ensure_connection()  # connect before the barrier, so the race is on the lock
            barrier.wait(timeout=30)
            results[i] = ("ok", job())
        except BaseException as exc:  # noqa: BLE001 - the test inspects every outcome
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results
