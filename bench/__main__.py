"""``python -m bench run|soak|profile|slow-provider|tenants|streams|floor [options]``: one command each, from a fresh clone after bin/setup."""

from __future__ import annotations

import sys

COMMANDS = {
    "run": "bench.run",
    "soak": "bench.soak",
    "slow-provider": "bench.slow_provider",
    "profile": "bench.profile",
    "tenants": "bench.fleet",
    "streams": "bench.streams",
    "floor": "bench.floor",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m bench {{{'|'.join(COMMANDS)}}} [options]  (--help for each)")
        return 2
    from importlib import import_module

    return import_module(COMMANDS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
