"""Who serves which tenant's agent feeds: the live ``relay_listen`` processes and their leases
(relay/salesforce/shards.py). Imported by relay/models.py so Django registers them with the app.

Times here are the database's clock (``Now()``), never a process's, so listeners on hosts whose clocks
disagree still agree on when a lease has run out.
"""

from __future__ import annotations

from django.db import models


class ListenerProcess(models.Model):
    """One running ``relay_listen``, kept alive by its heartbeat; gone when it stops or ``expires_at`` passes."""

    holder = models.CharField(max_length=100, unique=True, help_text="host:pid:random, unique per start.")
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True, help_text="Counted as dead after this (database time).")
    tenants = models.PositiveIntegerField(default=0, help_text="Tenants it held at its last heartbeat.")

    class Meta:
        verbose_name = "listener process"
        ordering = ("started_at",)

    def __str__(self) -> str:
        return self.holder


class ListenerLease(models.Model):
    """The right to serve one tenant's agent feeds: held by ``holder`` until ``expires_at`` unless renewed.

    Taken only with a conditional UPDATE (``expires_at`` already past), so two processes never hold it at
    once; ``holder`` is empty once handed back."""

    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, primary_key=True, related_name="listener_lease"
    )
    holder = models.CharField(max_length=100, blank=True, db_index=True)
    expires_at = models.DateTimeField()
    since = models.DateTimeField(null=True, blank=True, help_text="When the holder took it.")

    class Meta:
        verbose_name = "listener lease"

    def __str__(self) -> str:
        return f"tenant {self.tenant_id}: {self.holder or 'nobody'}"
