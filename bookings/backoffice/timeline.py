"""The multi-property calendar timeline (placeholder: filled in by the calendar slice)."""

from django.http import HttpResponse


def calendar_view(request):
    return HttpResponse("Calendar: not built yet.", content_type="text/plain")
