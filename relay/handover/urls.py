"""The chatbot handover endpoint, mounted at ``/handover/`` (docs/handover.md)."""

from django.urls import path

from .views import handover

urlpatterns = [path("<str:key>/", handover, name="handover")]
