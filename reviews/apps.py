from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"

    def ready(self):
        from django.conf import settings

        from bookings import notifications
        from core import tenancy
        from messaging import placeholders

        from .links import review_url

        # The "review request after check-out" automatic message links to the review form, not the portal.
        placeholders.register("review_link", lambda booking, _settings: f"{settings.SITE_URL}{review_url(booking)}")
        # The thank-you email after check-out offers it too, whether or not the owner switched the request on.
        notifications.register_context(notifications.Kind.THANK_YOU, _thank_you_context)

        tenancy.register_paths({
            "reviews.review": "property",
            "reviews.reviewevent": "review__property",
        })


def _thank_you_context(row) -> dict:
    """The review link of the stay the thank-you email is about (``bookings.notifications``' context registry)."""
    from bookings.notifications import absolute

    from .links import pending_review_url

    path = pending_review_url(row.booking) if row.booking is not None else ""
    return {"review_url": absolute(path)} if path else {}
