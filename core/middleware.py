"""Each request gets an id (the client's ``X-Request-ID`` when usable, else a new one), returned in the response's
``X-Request-ID`` and recorded as the cause of every audit row it writes (``core.context``)."""

from __future__ import annotations

from .context import caused_by, request_id_from


class RequestCauseMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_from(request.headers.get("X-Request-ID"))
        with caused_by(f"request {request.request_id}"):
            response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response
