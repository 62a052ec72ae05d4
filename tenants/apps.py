from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants and channels"

    def ready(self) -> None:
        # Every save or delete of what tenants/config_cache.py keeps per process makes the processes reload it.
        from django.apps import apps
        from django.db.models.signals import post_delete, post_save

        from . import config_cache

        for label in config_cache.WATCHED:
            model = apps.get_model(label)
            post_save.connect(config_cache.changed, sender=model, dispatch_uid=f"config-cache-save-{label}")
            post_delete.connect(
                config_cache.changed, sender=model, dispatch_uid=f"config-cache-delete-{label}"
            )
