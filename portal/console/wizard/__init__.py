"""The setup wizard: six steps from an empty tenant to a delivered test message (see docs/setup-wizard.md).

Included by ``portal/console/urls.py`` (app ``console``); ``console:wizard`` is the page Canvas opens.
"""

from django.urls import path

from . import views

urlpatterns = [
    path("wizard/", views.home, name="wizard"),
    path("wizard/embed/", views.embed, name="wizard-embed"),
    path("wizard/certificate/", views.certificate, name="wizard-certificate"),
    path("wizard/health/", views.health_checks, name="wizard-health"),
    path("wizard/checks/<str:check_id>/", views.check_status, name="wizard-check"),
    path("wizard/test-message/<int:pk>/", views.test_message_status, name="wizard-test-status"),
    path("wizard/<slug:slug>/", views.step, name="wizard-step"),
]
