"""The pages that run inside the Salesforce console (and, for admins, on the site itself)."""

from django.urls import include, path

from . import entry, session

app_name = "console"

urlpatterns = [
    path("canvas/", entry.canvas_entry, name="canvas"),
    path("canvas/<slug:page>/", entry.canvas_entry, name="canvas-page"),
    path("session/renew/", session.renew, name="session-renew"),
    # One module per page, each with its own urlpatterns.
    path("", include("portal.console.wizard")),
    path("", include("portal.console.templates_panel")),
    path("", include("portal.console.history")),
    path("", include("portal.console.case_panel")),
]
