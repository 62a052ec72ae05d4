"""Conversations, Messaging sessions and conversation entries (the Interaction Service's state).

OWNED BY THE INTERACTION SERVICE WORK: this stub only fixes the interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..world import World


class MessagingService:
    def __init__(self, world: World) -> None:
        self.world = world

    def reset(self) -> None:
        pass
