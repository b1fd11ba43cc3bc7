"""Guest account pages (allauth does sign-up, login and email verification under /accounts/)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from bookings.checkout import status_url

from .selectors import bookings_for_user, verified_emails


@never_cache
@login_required(login_url="account_login")
def my_bookings(request):
    """All bookings made with one of the signed-in guest's verified email addresses, each linked to its portal."""
    bookings = list(bookings_for_user(request.user))
    rows = [{"booking": b, "portal_url": status_url(b)} for b in bookings]
    return render(request, "guests/my_bookings.html", {"rows": rows, "emails": verified_emails(request.user)})
