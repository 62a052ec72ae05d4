from django.apps import AppConfig


class RelayConfig(AppConfig):
    name = "relay"
    verbose_name = "Relay"

    def ready(self) -> None:
        # Receivers connect once the models are loaded (Django's advice for signals): a tenant's first Pub/Sub
        # subscription starts where its Salesforce connection was saved (relay/salesforce/cursors.py).
        from .salesforce import cursors  # noqa: F401
