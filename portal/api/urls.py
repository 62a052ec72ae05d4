"""Stub: the partner REST API is added by the work that owns this package."""

urlpatterns: list = []
