from django.apps import AppConfig


class PropertiesConfig(AppConfig):
    name = "properties"

    def ready(self):
        from django.db.models.signals import post_save

        from core import tenancy

        from . import services
        from .models import PropertyPhoto
        from .tenancy import managed_properties

        tenancy.register_tenant("properties.property", managed_properties)
        tenancy.register_paths({
            "properties.propertyphoto": "property",
            "properties.pricingrule": "property",
            "properties.dateoverride": "property",
        })
        # Every photo upload gets its WebP renditions (properties.services.make_photo_renditions).
        post_save.connect(services.photo_saved, sender=PropertyPhoto, dispatch_uid="properties.photo_renditions")
