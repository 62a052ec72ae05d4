"""Omni-Channel presence as the REST API shows it: ``UserServicePresence`` and ``ServicePresenceStatus``.

A real org writes a ``UserServicePresence`` row each time an agent changes status; the row of the
status the agent is in now has ``IsCurrentState = true``, and going offline closes it (so an offline
agent has no current row). Here the rows are a view of the agents' ``User.IsOnline`` flag (set by
the console page and its API): every online agent has one current row in the "Available" status.
Queryable with SOQL like any other object, e.g. ``SELECT UserId FROM UserServicePresence WHERE
IsCurrentState = true AND IsAway = false``. Not simulated: away or busy statuses, capacity, history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import schema
from .schema import ObjectDef, _f, _object, stable_id

if TYPE_CHECKING:
    from .org import Org

AVAILABLE = "Available"


def status_id(org: Org) -> str:
    return stable_id(org, "ServicePresenceStatus", AVAILABLE, prefix="0N5")


def service_presence_status_rows(org: Org) -> list[dict]:
    return [
        {
            "Id": status_id(org),
            "DeveloperName": AVAILABLE,
            "MasterLabel": "Available",
            "Language": "en_US",
        }
    ]


def user_service_presence_rows(org: Org) -> list[dict]:
    rows = []
    for user in org.records.all("User"):
        if not (user.get("IsAgent") and user.get("IsOnline") and user.get("IsActive", True)):
            continue
        since = user.get("LastModifiedDate")
        rows.append(
            {
                "Id": stable_id(org, "UserServicePresence", f"{user['Id']}:{since}", prefix="0Hn"),
                "UserId": user["Id"],
                "ServicePresenceStatusId": status_id(org),
                "IsCurrentState": True,
                "IsAway": False,
                "StatusStartDate": since,
                "StatusEndDate": None,
                "ConfiguredCapacity": 10,
                "CreatedDate": since,
                "LastModifiedDate": since,
            }
        )
    return rows


def register() -> None:
    objects: list[ObjectDef] = [
        _object(
            "ServicePresenceStatus",
            "Presence Status",
            _f("DeveloperName", ro=True),
            _f("MasterLabel", ro=True),
            _f("Language", "picklist", ro=True),
            rows=service_presence_status_rows,
        ),
        _object(
            "UserServicePresence",
            "User Presence",
            _f("UserId", "reference", "User", ro=True),
            _f("ServicePresenceStatusId", "reference", "ServicePresenceStatus", ro=True),
            _f("IsCurrentState", "boolean", ro=True),
            _f("IsAway", "boolean", ro=True),
            _f("StatusStartDate", "datetime", ro=True),
            _f("StatusEndDate", "datetime", ro=True),
            _f("ConfiguredCapacity", "int", ro=True),
            rows=user_service_presence_rows,
        ),
    ]
    for obj in objects:
        schema.OBJECTS.setdefault(obj.name, obj)


register()
