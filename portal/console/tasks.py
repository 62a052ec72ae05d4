"""The console's periodic tasks (Celery's autodiscovery imports this module; the beat names the task)."""

from __future__ import annotations

from celery import shared_task

from .case_panel import attachments


@shared_task(name="console.case_panel.purge_files", ignore_result=True)
def purge_case_panel_files() -> int:
    """Delete the Case panel's files nobody can fetch any more, and those no message names (a crash between
    storing a file and its message row) once they are a day old (portal/console/case_panel/attachments.py)."""
    return attachments.purge_expired() + attachments.purge_orphans()
