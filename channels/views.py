"""The public iCal export feed: ``GET /ical/<export token>.ics`` (also without ``.ics``).

Platforms poll it every few minutes with the secret token as their only
credential, so the view is deliberately small:

* the token is found by its digest (``ChannelConnection.export_token_digest``);
  an unknown or rotated token answers a plain 404 that tells nothing;
* it never touches ``request.user`` or the session, and no CSRF token is asked
  for, so no ``Set-Cookie`` (and no ``Vary: Cookie``) goes out, even to a client
  that sends a session cookie;
* the version (ETag / Last-Modified) comes from the rows before the body is
  built: ``If-None-Match`` / ``If-Modified-Since`` that match get a 304 without
  rendering anything: two queries for a 304 (the connection, a digest of the
  rows computed by PostgreSQL), four for a 200 (and the two that read the rows);
* the body is always live (``Cache-Control: private, max-age=0, must-revalidate``):
  never cached between requests.

The property's status does not matter: a draft or archived property still
exports its stays and blocks (a listing may still be live on a platform; the
host stops the feed by removing the connection or rotating its token).
"""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseNotAllowed, HttpResponseNotFound
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from core.crypto import token_digest
from core.replica import reads_from_replica

from .ical_export import feed_source, last_modified_for, render
from .models import ChannelConnection

CACHE_CONTROL = "private, max-age=0, must-revalidate"


def not_found(request=None, *args, **kwargs) -> HttpResponse:
    """The same plain 404 for a wrong, rotated or malformed token: nothing tells which."""
    return HttpResponseNotFound("Not found\n", content_type="text/plain; charset=utf-8")


@csrf_exempt  # GET/HEAD only anyway; no CSRF machinery on a public feed
@reads_from_replica  # platforms poll every few minutes: a replica's lag of seconds is within that
def feed(request, token: str):
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    try:  # get(), not first(): first() would order by the model's ordering, a join on every poll
        connection = ChannelConnection.objects.select_related("property").get(export_token_digest=token_digest(token))
    except ChannelConnection.DoesNotExist:
        return not_found()

    source = feed_source(connection)
    # The version first, the rows after: a change in between gives a newer body under the older ETag (the
    # next poll downloads again), never an older body under the newer ETag (which would stick until the next change).
    etag = source.etag()
    last_modified = last_modified_for(connection.pk, etag)
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(last_modified.timestamp()),
        "Cache-Control": CACHE_CONTROL,
        "X-Robots-Tag": "noindex, nofollow",
    }
    not_modified = get_conditional_response(request, etag=etag, last_modified=int(last_modified.timestamp()))
    if not_modified is not None:  # 304 (or 412 for a failed If-Match): no body built
        for name, value in headers.items():
            not_modified.headers[name] = value
        return not_modified

    body = render(source.load())
    headers["Content-Length"] = str(len(body))  # for HEAD too: the length of the body a GET gets
    headers["Content-Disposition"] = f'inline; filename="{connection.property.slug}-{connection.platform}.ics"'
    return HttpResponse(b"" if request.method == "HEAD" else body, content_type="text/calendar; charset=utf-8",
                        headers=headers)
