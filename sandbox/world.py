"""The sandbox's whole state: Salesforce orgs, Infobip accounts, the event bus and the fault board.

All simulators run on one asyncio event loop (HTTP under uvicorn, gRPC under grpc.aio), so the
state needs no locks: every mutation happens on that loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .eightbyeight.state import EightByEightService
from .enhancedchat.state import EnhancedChatService
from .faults import FaultBoard
from .infobip.state import InfobipService
from .pubsub.bus import EventBus
from .pubsub.cdc import ChangeDataCapture
from .salesforce.livechat_state import LiveChatService
from .salesforce.messaging import MessagingService
from .salesforce.org import OrgRegistry
from .salesforce.orgs_fixture import load_orgs

FIXTURE_APP_URL = "http://127.0.0.1:8000"  # where fixtures/demo.json expects Switchboard


@dataclass
class SandboxConfig:
    http_base_url: str = "http://127.0.0.1:8100"  # what this sandbox is reached at over HTTP
    grpc_target: str = "127.0.0.1:8101"  # Pub/Sub API host:port (plaintext)
    keepalive_seconds: float = 30.0  # Pub/Sub keep-alive interval (Salesforce: about 270 s)
    event_retention_seconds: float = 72 * 3600  # Pub/Sub retention window
    webhook_time_scale: float = 1.0  # compresses provider webhook retry back-off in tests
    long_poll_seconds: float = 30.0  # Legacy Chat Messages long-poll timeout

    def url(self, service: str) -> str:
        """The base URL of a simulated host: ``login``, ``core``, ``scrt``, ``livechat``, ``infobip``."""
        return f"{self.http_base_url}/sim/{service}"


class World:
    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.faults = FaultBoard()
        self.orgs = OrgRegistry()
        self.pubsub = EventBus(self)
        self.cdc = ChangeDataCapture(self)  # /data/<Entity>ChangeEvent of each org's selected objects
        self.orgs.on_add = self.cdc.attach
        self.messaging = MessagingService(self)
        self.livechat = LiveChatService(self)
        self.infobip = InfobipService(self)
        self.eightbyeight = EightByEightService(self)
        self.enhancedchat = EnhancedChatService(self)
        self.loop = None  # the asyncio loop the servers run on, set when serving

    def load_fixture(self, data: dict) -> None:
        """Create orgs and provider accounts from a fixture document (see ``fixtures/demo.json``)."""
        load_orgs(self, data.get("orgs", []))
        for org in self.orgs.all():
            org.records.ids.skip_to_boot_block()
        self.infobip.load(data.get("infobip", {}))
        self.eightbyeight.load(data.get("8x8", {}))

    def load_fixture_file(self, path: str | Path, *, app_url: str = "") -> None:
        """Load a fixture file; ``app_url`` replaces the Switchboard address the fixture names
        (``http://127.0.0.1:8000``: webhook and Canvas URLs) when Switchboard runs elsewhere."""
        text = Path(path).read_text()
        if app_url:
            text = text.replace(json.dumps(FIXTURE_APP_URL)[1:-1], json.dumps(app_url.rstrip("/"))[1:-1])
        self.load_fixture(json.loads(text))

    def reset(self) -> None:
        """Forget everything: orgs, accounts, events, faults."""
        self.faults.clear()
        self.orgs.clear()
        self.pubsub.reset()
        self.messaging.reset()
        self.livechat.reset()
        self.infobip.reset()
        self.eightbyeight.reset()
        self.enhancedchat.reset()
