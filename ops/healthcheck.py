"""Container health check: GET a path of the web process on this host, as the proxy in front would send it.

    python ops/healthcheck.py /healthz        exit 0 when the answer is 200, else 1 (with the reason on stderr)

The request carries the first public host name of DJANGO_ALLOWED_HOSTS (Django refuses other Host headers) and
``X-Forwarded-Proto: https`` (with DEBUG off, plain HTTP would be redirected to https). Standard library only: the
runtime image has no curl.
"""

import http.client
import os
import sys


def main(path: str) -> int:
    hosts = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")
    port = int(os.environ.get("HEALTHCHECK_PORT") or 8000)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": host, "X-Forwarded-Proto": "https"})
        status = connection.getresponse().status
    except OSError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"{path}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/healthz"))
