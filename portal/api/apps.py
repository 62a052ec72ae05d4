from django.apps import AppConfig


class PartnerApiConfig(AppConfig):
    name = "portal.api"
    label = "partner_api"
    verbose_name = "Partner API"

    def ready(self) -> None:
        from relay.signals import conversation_event, message_status_changed

        from . import webhooks
        from .tasks import SWEEP_SECONDS

        message_status_changed.connect(webhooks.on_message_status_changed, dispatch_uid="partner-api-status")
        conversation_event.connect(webhooks.on_conversation_event, dispatch_uid="partner-api-conversation")
        from django.db.models.signals import post_delete, post_save

        from tenants.models import Tenant

        from .models import WebhookSubscription

        for model in (WebhookSubscription, Tenant):  # a tenant may move to another partner
            for signal in (post_save, post_delete):
                signal.connect(
                    webhooks.forget_subscriptions, sender=model, dispatch_uid=f"forget-{model.__name__}"
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
