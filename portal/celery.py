"""The Celery app. Tasks carry ids only; the database is the source of truth (see DESIGN.md)."""

import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def check_database_connection(task=None, **kwargs) -> None:
    """Before each task, what Django does before each request: close a connection older than
    CONN_MAX_AGE or found broken, and health-check a reused one on first use (CONN_HEALTH_CHECKS)."""
    from django.db import close_old_connections, connection

    if getattr(getattr(task, "request", None), "is_eager", False) or connection.in_atomic_block:
        return  # an eager task runs inside its caller's transaction: its connection is not ours to close
    close_old_connections()
