from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from relay.inbound.webhook import provider_webhook

from .health import healthz

admin.site.site_header = "Switchboard"
admin.site.site_title = "Switchboard admin"
admin.site.index_title = "Tenants, channels and deliveries"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", healthz, name="healthz"),
    # Browsers ask every site for /favicon.ico; answer with the icon instead of a 404 in every log.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("webhooks/<slug:provider>/<str:key>/", provider_webhook, name="provider-webhook"),
    path("console/", include("portal.console.urls")),
    path("api/", include("portal.api.urls")),
    path("handover/", include("relay.handover.urls")),
]
