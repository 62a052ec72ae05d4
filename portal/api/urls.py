"""The partner REST API under /api/v1/, its OpenAPI document (/api/v1/schema/) and Redoc (/api/v1/docs/)."""

from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from .errors import error_body
from .resources import (
    api_keys,
    checks,
    conversations,
    messages,
    provider_accounts,
    routing_rules,
    salesforce_connections,
    senders,
    tenants,
    webhook_deliveries,
    webhook_subscriptions,
)

app_name = "partner_api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
# One module per resource (resources/<resource>.py: serializers, filters, viewset); the order is the document's.
router.register("tenants", tenants.TenantViewSet, basename="tenant")
router.register(
    "salesforce-connections",
    salesforce_connections.SalesforceConnectionViewSet,
    basename="salesforce-connection",
)
router.register("provider-accounts", provider_accounts.ProviderAccountViewSet, basename="provider-account")
router.register("senders", senders.SenderViewSet, basename="sender")
router.register("routing-rules", routing_rules.RoutingRuleViewSet, basename="routing-rule")
router.register("conversations", conversations.ConversationViewSet, basename="conversation")
router.register("messages", messages.MessageViewSet, basename="message")
router.register("api-keys", api_keys.ApiKeyViewSet, basename="api-key")
router.register(
    "webhook-subscriptions", webhook_subscriptions.WebhookSubscriptionViewSet, basename="webhook-subscription"
)
router.register("webhook-deliveries", webhook_deliveries.WebhookDeliveryViewSet, basename="webhook-delivery")
router.register("checks", checks.LiveCheckViewSet, basename="check")


# The OpenAPI document by API version, built once per process: it comes from the code alone (the view is public,
# no caller changes it), and building it takes about 0.1 s of CPU, which anyone could ask for 1,200 times a
# minute per address.
_documents: dict[str | None, dict] = {}


class SchemaView(SpectacularAPIView):
    @extend_schema(exclude=True)  # the document does not describe itself
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def _get_schema_response(self, request):
        """drf-spectacular's, with the built document kept (it builds one on every request)."""
        version = self.api_version or request.version or self._get_version_parameter(request)
        document = _documents.get(version)
        if document is None:
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            document = _documents.setdefault(
                version, generator.get_schema(request=request, public=self.serve_public)
            )
        filename = self._get_filename(request, version)
        return Response(data=document, headers={"Content-Disposition": f'inline; filename="{filename}"'})


class RedocView(SpectacularRedocView):
    template_name = "partner_api/redoc.html"  # Redoc served from static/vendor, no outside fonts


@csrf_exempt  # an API path: no CSRF page either, the same JSON error for every method
def no_such_endpoint(request, *args, **kwargs):
    """Unknown paths under /api/v1/ answer in the API's error shape, not with an HTML page."""
    return JsonResponse(
        error_body(404, "not_found", f"No endpoint {request.path}: see /api/v1/docs/."), status=404
    )


urlpatterns = [
    path("v1/", include(router.urls)),
    path("v1/schema/", SchemaView.as_view(api_version="v1"), name="schema"),
    path("v1/docs/", RedocView.as_view(url_name="partner_api:schema"), name="docs"),
    re_path(r"^v1/", no_such_endpoint),
]
