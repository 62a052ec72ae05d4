"""The Celery app. Tasks carry ids only; the database is the source of truth (see DESIGN.md)."""

import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, task_prerun

from portal import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def redis_transport(sender=None, source=None, **kwargs) -> None:
    """A ``redis://`` broker goes through portal/broker.py (one redis client per channel, not per command);
    a transport the settings name, and any other broker, as configured."""
    if (
        source is not None
        and not source.broker_transport
        and str(source.broker_url or "").startswith("redis://")
    ):
        source.broker_transport = broker.TRANSPORT


@after_setup_logger.connect
@after_setup_task_logger.connect
def redact_worker_logs(logger=None, **kwargs) -> None:
    """The worker drops the handlers of Django's LOGGING (and their redaction filter) for its own: its log
    lines, where most of the relay runs, are redacted as the web's are."""
    import logging

    from portal.logging import redact_handlers

    for each in (logger, logging.getLogger(), logging.getLogger("celery.task")):
        if each is not None:
            redact_handlers(each)


@task_prerun.connect
def check_database_connection(task=None, **kwargs) -> None:
    """Before each task, what Django does before each request: close a connection older than
    CONN_MAX_AGE or found broken, and health-check a reused one on first use (CONN_HEALTH_CHECKS)."""
    from django.db import close_old_connections, connection

    from portal.db_health import run_eagerly

    if run_eagerly(task) or connection.in_atomic_block:
        return  # an eager task runs inside its caller's transaction: its connection is not ours to close
    close_old_connections()
