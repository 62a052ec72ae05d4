from django.apps import AppConfig


class PartnerApiConfig(AppConfig):
    name = "portal.api"
    label = "partner_api"
    verbose_name = "Partner API"
