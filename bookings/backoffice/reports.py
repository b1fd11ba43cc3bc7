"""Reports: occupancy, ADR, RevPAR, revenue (placeholder: filled in by the reports slice)."""

from django.http import HttpResponse


def reports_view(request):
    return HttpResponse("Reports: not built yet.", content_type="text/plain")


def reports_csv_view(request):
    return HttpResponse("", content_type="text/csv")
