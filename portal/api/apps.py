from django.apps import AppConfig


class PartnerApiConfig(AppConfig):
    name = "portal.api"
    label = "partner_api"
    verbose_name = "Partner API"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save, pre_save

        from relay import signals as relay_signals
        from tenants.models import Tenant

        from . import webhooks
        from .models import WebhookSubscription
        from .tasks import SWEEP_SECONDS

        # The relay writes what partners hear about into this outbox, in the transaction of the change.
        relay_signals.use_outbox(wants=webhooks.wants, write=webhooks.record_event)

        for model in (WebhookSubscription, Tenant):  # a tenant may move to another partner
            for signal in (post_save, post_delete):
                signal.connect(
                    webhooks.forget_subscriptions, sender=model, dispatch_uid=f"forget-{model.__name__}"
                )

        pre_save.connect(
            webhooks.drop_old_partners_subscriptions,
            sender=Tenant,
            dispatch_uid="drop-old-partners-subscriptions",
        )

        # Beat runs the sweep (it re-queues due partner webhooks); registered here so settings stay untouched.
        from portal.celery import app

        app.conf.beat_schedule = {
            **(app.conf.beat_schedule or {}),
            "partner-webhooks-sweep": {
                "task": "portal.api.tasks.sweep_partner_webhooks",
                "schedule": SWEEP_SECONDS,
                "options": {"expires": 60},
            },
        }
