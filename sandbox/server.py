"""Run the sandbox: HTTP (uvicorn) and gRPC (Pub/Sub API) on one asyncio loop.

``python -m sandbox`` (or ``python manage.py sandbox``) serves until interrupted; tests use
:class:`SandboxServer` to run it on free ports in a background thread.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import uvicorn

from .app import build_app
from .pubsub.server import start_grpc_server
from .world import SandboxConfig, World

log = logging.getLogger("sandbox")


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and without it every
    # answer (headers, then body) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


class SandboxServer:
    """The sandbox on ``host``; port 0 picks free ports (read them back from ``world.config``)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        http_port: int = 8100,
        grpc_port: int = 8101,
        config: SandboxConfig | None = None,
        fixture: str | None = None,
        app_url: str = "",
        access_log: bool = False,
    ) -> None:
        self.host = host
        self._sock = _bind(host, http_port)
        self.http_port = self._sock.getsockname()[1]
        self.grpc_port = grpc_port
        self.world = World(config or SandboxConfig())
        self.world.config.http_base_url = f"http://{host}:{self.http_port}"
        if fixture:
            self.world.load_fixture_file(fixture, app_url=app_url)
        self.app = build_app(self.world)
        self._uvicorn = uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_level="warning",
                access_log=access_log,
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )
        self._grpc = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        return self.world.config.http_base_url

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.world.loop = self._loop
        self._grpc = await start_grpc_server(self.world, f"{self.host}:{self.grpc_port}")
        if self._grpc is not None:
            self.grpc_port = self._grpc.bound_port
        self.world.config.grpc_target = f"{self.host}:{self.grpc_port}"
        task = asyncio.create_task(self._uvicorn.serve(sockets=[self._sock]))
        while not self._uvicorn.started and not task.done():
            await asyncio.sleep(0.01)
        self._ready.set()
        log.info("sandbox HTTP on %s, Pub/Sub gRPC on %s", self.base_url, self.world.config.grpc_target)
        try:
            await task
        finally:
            if self._grpc is not None:
                await self._grpc.stop(grace=0.5)

    def start(self) -> SandboxServer:
        """Serve in a background thread; return once both servers accept connections."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self.serve()), name="sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=20):
            raise RuntimeError("sandbox did not start within 20 s")
        return self

    def stop(self) -> None:
        self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def call(self, fn, *args, **kwargs):
        """Run ``fn`` on the sandbox's loop and return its result (for tests that touch state)."""
        if self._loop is None:
            return fn(*args, **kwargs)

        async def run():
            result = fn(*args, **kwargs)
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)
