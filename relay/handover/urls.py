"""Stub: the chatbot handover endpoint is added by the work that owns this package."""

urlpatterns: list = []
