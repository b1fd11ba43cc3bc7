"""Bench-only URLconf (selected by ``bench.settings``): the production URLs plus ``/bench/floor/``.

``/bench/floor/`` returns a fixed string through the whole middleware stack, with no
query and no template: what any Django page costs here before it does any work.
It is not in ``config.urls``, so production never serves it.
"""

from django.http import HttpResponse
from django.urls import include, path


def floor(request):
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


urlpatterns = [
    path("bench/floor/", floor, name="bench-floor"),
    path("", include("config.urls")),
]
