"""Stub: the gRPC Pub/Sub API server is added by the work that owns this module."""

from __future__ import annotations


async def start_grpc_server(world, address: str):
    """Start ``eventbus.v1.PubSub`` on ``address`` (host:port, plaintext); return the grpc.aio server."""
    return None
