from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"

    def ready(self):
        from core import tenancy

        tenancy.register_paths({
            "reviews.review": "property",
            "reviews.reviewevent": "review__property",
        })
