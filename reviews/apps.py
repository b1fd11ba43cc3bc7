from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"

    def ready(self):
        from django.conf import settings

        from core import tenancy
        from messaging import placeholders

        from .links import review_url

        # The "review request after check-out" automatic message links to the review form, not the portal.
        placeholders.register("review_link", lambda booking, _settings: f"{settings.SITE_URL}{review_url(booking)}")

        tenancy.register_paths({
            "reviews.review": "property",
            "reviews.reviewevent": "review__property",
        })
