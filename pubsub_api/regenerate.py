"""Regenerate ``pubsub_api_pb2.py`` and ``pubsub_api_pb2_grpc.py`` from ``pubsub_api.proto``.

Run from anywhere with the project's venv (grpcio-tools is a dev dependency)::

    .venv/bin/python -m pubsub_api.regenerate

The proto is compiled with the repository root as include path, so the generated gRPC module
imports ``from pubsub_api import pubsub_api_pb2`` and the stubs work as a package. Commit the
generated files; check they import with the installed protobuf runtime (``import pubsub_api``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = "pubsub_api/pubsub_api.proto"


def main() -> int:
    from grpc_tools import protoc  # imported here: a dev-only dependency

    args = [
        "grpc_tools.protoc",
        f"-I{ROOT}",
        f"--python_out={ROOT}",
        f"--grpc_python_out={ROOT}",
        str(ROOT / PROTO),
    ]
    return protoc.main(args)


if __name__ == "__main__":
    sys.exit(main())
