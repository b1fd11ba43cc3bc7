"""Platform webhooks of API connections: ``POST /channels/webhooks/<transport>``.

A webhook only says "something changed, come and look": the view finds the connection by the secret it was
registered with (header ``X-Stayhold-Token``, compared by its digest; Channex documents no signature, so the
secret travels as a custom header over HTTPS) and queues a pull of that connection, which reads the platform's
feed in the platform's order (``channels.api_sync``). A duplicated, delayed, reordered or forged webhook
therefore changes nothing by itself; a lost one is caught by the beat job's regular pull. One event is not a
trigger: Channex's ``sync_error`` (it could not update one of the platforms it serves) is recorded on the
connection for the owner (``api_sync.record_platform_error``).

Answers: 200 ``{"received": true}``; 404 ``{"code": "unknown_connection"}`` for a missing or wrong secret (the
same answer whether the connection exists or not); 405 for anything but POST. No session, no CSRF cookie.
"""

from __future__ import annotations

import json

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from core import metrics
from core.crypto import token_digest

from .adapters.base import WEBHOOK_TOKEN_HEADER
from .api_sync import queue_pull, record_platform_error
from .models import ChannelConnection, Transport

MAX_BODY_BYTES = 64 * 1024


@csrf_exempt
@metrics.timed_webhook(lambda request, transport: metrics.bounded(transport, Transport.values))
def webhook(request, transport: str):
    if request.method != "POST":
        return JsonResponse({"code": "method_not_allowed", "detail": "POST only."}, status=405)
    token = request.headers.get(WEBHOOK_TOKEN_HEADER, "")
    connection = None
    if token and transport in Transport.values and transport != Transport.ICAL:
        connection = (ChannelConnection.objects.filter(inbound_token_digest=token_digest(token), transport=transport,
                                                       sync_enabled=True).only("pk").first())
    if connection is None:
        return JsonResponse({"code": "unknown_connection", "detail": "No connection has this webhook secret."},
                            status=404)
    event = _event(request)
    if event.get("event") == "sync_error":  # the platform could not update one of its channels: tell the owner
        record_platform_error(connection.pk, event.get("payload") or {})
    else:
        queue_pull(connection.pk)
    return JsonResponse({"received": True})


def _event(request) -> dict:
    """The webhook's JSON body, if it is one (a trigger without a body, or a malformed one, is still a trigger)."""
    if len(request.body) > MAX_BODY_BYTES:
        return {}
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


urlpatterns = [path("<str:transport>", webhook, name="channel-webhook")]
