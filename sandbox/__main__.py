"""``python -m sandbox``: run the simulators until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os

from . import epoch
from .server import SandboxServer
from .world import SandboxConfig

DEFAULT_FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "demo.json")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="sandbox", description="Run the Salesforce and provider simulators."
    )
    parser.add_argument("--host", default=os.environ.get("SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", "8100")))
    parser.add_argument("--grpc-port", type=int, default=int(os.environ.get("SANDBOX_GRPC_PORT", "8101")))
    parser.add_argument(
        "--fixture", default=DEFAULT_FIXTURE, help="orgs and accounts to create at start ('' for none)"
    )
    parser.add_argument(
        "--keepalive", type=float, default=30.0, help="Pub/Sub keep-alive interval in seconds"
    )
    parser.add_argument(
        "--app-url",
        default=os.environ.get("SANDBOX_APP_URL", ""),
        help="Switchboard's address, for the fixture's webhook and Canvas URLs (default http://127.0.0.1:8000)",
    )
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument(
        "--state-dir",
        default=os.environ.get("SWITCHBOARD_VAR_DIR", "var"),
        help="where the boot number lives (ids never repeat across restarts; the state itself is in memory)",
    )
    args = parser.parse_args(argv)
    boot = epoch.advance(args.state_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sandbox %(levelname)s %(message)s")
    server = SandboxServer(
        host=args.host,
        http_port=args.port,
        grpc_port=args.grpc_port,
        config=SandboxConfig(keepalive_seconds=args.keepalive),
        fixture=args.fixture or None,
        app_url=args.app_url,
        access_log=args.access_log,
    )
    logging.getLogger("sandbox").info(
        "boot %s: the simulators start with a fresh world (the demo fixture); nothing is kept from an earlier run",
        boot,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve())


if __name__ == "__main__":
    main()
