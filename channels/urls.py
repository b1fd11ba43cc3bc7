"""Public channel endpoints: the iCal export feeds (``/ical/<token>.ics``)."""

app_name = "channels"

urlpatterns: list = []
