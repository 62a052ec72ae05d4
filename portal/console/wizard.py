"""Stub: the page is added by the work that owns this module."""

urlpatterns: list = []
