"""Legacy Chat (Live Agent) sessions, buttons, deployments and agent availability.

OWNED BY THE LEGACY CHAT WORK: this stub only fixes the interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..world import World


class LiveChatService:
    def __init__(self, world: World) -> None:
        self.world = world

    def reset(self) -> None:
        pass
