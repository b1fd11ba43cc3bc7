from django.apps import AppConfig


class PropertiesConfig(AppConfig):
    name = "properties"

    def ready(self):
        from core import tenancy

        from .tenancy import managed_properties

        tenancy.register_tenant("properties.property", managed_properties)
        tenancy.register_paths({
            "properties.propertyphoto": "property",
            "properties.pricingrule": "property",
            "properties.dateoverride": "property",
        })
