"""Which desk serves a Salesforce connection: ``SWITCHBOARD_DESKS`` maps ``SalesforceConnection.desk`` to a
:class:`~relay.desks.base.Desk` subclass by dotted path.

Adding a desk is a module and one entry in the setting; the base class knows no subclass.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import Desk

if TYPE_CHECKING:
    from tenants.models import SalesforceConnection


def desk_names() -> list[str]:
    return list(settings.SWITCHBOARD_DESKS)


def desk_class(name: str) -> type[Desk]:
    """The class of desk ``name``; LookupError when this installation has none."""
    path = settings.SWITCHBOARD_DESKS.get(name)
    if path is None:
        raise LookupError(f"no desk {name!r} (SWITCHBOARD_DESKS has {', '.join(desk_names()) or 'none'})")
    return _load(path)


def desk_for(connection: SalesforceConnection) -> Desk:
    """The desk of a tenant's Salesforce connection."""
    return desk_class(connection.desk)(connection)


@cache
def _load(path: str) -> type[Desk]:
    desk = import_string(path)
    if not (isinstance(desk, type) and issubclass(desk, Desk)):
        raise ImproperlyConfigured(f"SWITCHBOARD_DESKS: {path} is not a relay.desks.base.Desk")
    return desk
