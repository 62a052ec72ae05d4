from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Switchboard portal"

    def ready(self) -> None:
        from . import db_health

        db_health.install()
