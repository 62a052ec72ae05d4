"""The Case chat panel (see views.py); its URLs, included by portal/console/urls.py."""

from django.urls import path

from . import views

urlpatterns = [
    path("case/", views.panel, name="case-panel"),
    path("case/updates/", views.updates, name="case-panel-updates"),
    path("case/reply/", views.reply, name="case-panel-reply"),
    path("case/templates/", views.templates, name="case-panel-templates"),
    path("case/file/<str:token>/<str:name>", views.file, name="case-panel-file"),
]
