"""Platform events per org and topic, with replay ids and retention (the Pub/Sub API's event bus).

OWNED BY THE PUB/SUB WORK: this stub only fixes the interface other simulators use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..world import World


class EventBus:
    def __init__(self, world: World) -> None:
        self.world = world

    def publish(self, org_id: str, event_api_name: str, fields: dict, *, created_by_id: str) -> bytes:
        """Publish one platform event (custom field values by API name); returns its replay id."""
        raise NotImplementedError

    def reset(self) -> None:
        pass
