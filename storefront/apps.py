from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    """The guest pages (search, property page, booking, the guest portal): a layer above the domain apps, which
    composes them and which none of them imports (docs/architecture.md)."""

    name = "storefront"
    verbose_name = "Guest pages"
