"""The WhatsApp template panel (see views.py); its URLs, included by portal/console/urls.py."""

from django.urls import path

from . import views

urlpatterns = [
    path("templates/", views.panel, name="templates"),
    path("templates/list/", views.template_list, name="templates-list"),
    path("templates/refresh/", views.refresh, name="templates-refresh"),
    path("templates/fields/", views.fields, name="templates-fields"),
    path("templates/preview/", views.preview_fragment, name="templates-preview"),
    path("templates/send/", views.send, name="templates-send"),
    path("templates/window/", views.window_badge, name="templates-window"),
    path("templates/history/", views.history, name="templates-history"),
]
