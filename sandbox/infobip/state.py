"""Simulated Infobip accounts: keys, senders, templates, sent messages, the 24-hour window, webhooks.

OWNED BY THE INFOBIP WORK: this stub only fixes the interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..world import World


class InfobipService:
    def __init__(self, world: World) -> None:
        self.world = world

    def load(self, spec: dict) -> None:
        pass

    def reset(self) -> None:
        pass
