"""The bare baseline: the same HTTP hops as Switchboard with nothing in between.

``python -m bench.baseline <config.json>`` serves, in one asyncio process:

- ``POST /webhooks/infobip/<account>/``: check the HMAC, parse the Infobip result, call the
  Interaction Service (multipart ``/api/v1/interactions``, the same headers Switchboard sends) and
  answer 200 once Salesforce accepted it. No database, no queue, no retry.
- per tenant, one Pub/Sub ``Subscribe`` stream; each agent ``Message`` event becomes one Infobip
  WhatsApp text send (conversations are sent in parallel, each one in order).
- ``POST /dlr``: Infobip's delivery reports, answered 200 and dropped.

Tokens are minted once per tenant at start (JWT bearer, as Switchboard does) and never refreshed.
This is the floor: what the hops cost on this machine without persistence, ordering guarantees
across restarts, retries or bookkeeping.

With ``"tight": true`` in the config the same hops run on aiohttp (its server and its client, the multipart
body written by hand) instead of Starlette, uvicorn and httpx: a second, tighter floor. httpx's connection
pool alone costs the first one most of its CPU, and a ratio to a slow baseline flatters the product.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import json
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import aiohttp.web
import grpc
import httpx
import jwt
import uvicorn
from fastavro import parse_schema, schemaless_reader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pubsub_api import METADATA_ACCESS_TOKEN, METADATA_INSTANCE_URL, METADATA_TENANT_ID, pb2, pb2_grpc


class Baseline:
    def __init__(self, config: dict) -> None:
        self.config = config
        self.sandbox = config["sandbox_url"]
        self.tenants = {t["account_key"]: t for t in config["tenants"]}
        self.tokens: dict[str, str] = {}
        # No pool wait: a bare relay that dropped sends because its own pool was full would measure nothing.
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(30, pool=None),
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
        )
        self.failed_sends = 0
        self.tails: dict[str, asyncio.Task] = {}  # conversation -> its last send, to keep order
        self.subscriptions: list[asyncio.Task] = []

    async def mint(self, tenant: dict) -> str:
        login = f"{self.sandbox}/sim/login"
        assertion = jwt.encode(
            {
                "iss": tenant["consumer_key"],
                "sub": tenant["integration_user"],
                "aud": "https://login.salesforce.com",
                "exp": int(time.time()) + 180,
            },
            self.config["private_key"],
            algorithm="RS256",
        )
        response = await self.http.post(
            f"{login}/services/oauth2/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        )
        response.raise_for_status()
        return response.json()["access_token"]

    async def start(self) -> None:
        for tenant in self.tenants.values():
            self.tokens[tenant["account_key"]] = await self.mint(tenant)
            self.subscriptions.append(asyncio.create_task(self.subscribe(tenant)))

    # --- inbound ------------------------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        body = await request.body()
        status, answer = await self.handle_webhook(
            request.path_params["key"], body, request.headers.get("x-hub-signature-256", "")
        )
        return JSONResponse(answer, status_code=status)

    async def handle_webhook(self, key: str, body: bytes, signature: str) -> tuple[int, dict]:
        tenant = self.tenants.get(key)
        if tenant is None:
            return 404, {"error": "unknown account"}
        expected = "sha256=" + hmac.new(tenant["webhook_secret"].encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return 401, {"error": "bad signature"}
        for result in json.loads(body)["results"]:
            status, text = await self.post_interaction(tenant, self.interaction(tenant, result))
            if status >= 300:
                return 502, {"error": text}
        return 200, {"accepted": 1}

    def interaction(self, tenant: dict, result: dict) -> dict:
        entry_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant['account_key']}:{result['messageId']}"))
        return {
            "to": tenant["channel_address_identifier"],
            "from": "+" + result["from"],
            "interactions": [
                {
                    "timestamp": int(time.time() * 1000),
                    "interactionType": "EntryInteraction",
                    "payload": {
                        "id": entry_id,
                        "entryType": "Message",
                        "abstractMessage": {
                            "messageType": "StaticContentMessage",
                            "id": entry_id,
                            "staticContent": {"formatType": "Text", "text": result["message"]["text"]},
                        },
                    },
                }
            ],
        }

    def interaction_headers(self, tenant: dict) -> dict:
        return {
            "Authorization": f"Bearer {self.tokens[tenant['account_key']]}",
            "OrgId": tenant["org_id15"],
            "AuthorizationContext": "Switchboard_Messaging",
            "RequestId": str(uuid.uuid4()),
            "Accept": "application/json",
        }

    async def post_interaction(self, tenant: dict, interaction: dict) -> tuple[int, str]:
        response = await self.http.post(
            f"{self.sandbox}/sim/scrt/api/v1/interactions",
            files=[("json", (None, json.dumps(interaction).encode(), "application/json"))],
            headers=self.interaction_headers(tenant),
        )
        return response.status_code, response.text

    async def dlr(self, request: Request) -> Response:
        await request.body()
        return JSONResponse({})

    # --- outbound -----------------------------------------------------------------------------------

    async def subscribe(self, tenant: dict) -> None:
        metadata = (
            (METADATA_ACCESS_TOKEN, self.tokens[tenant["account_key"]]),
            (METADATA_INSTANCE_URL, f"{self.sandbox}/sim/core"),
            (METADATA_TENANT_ID, tenant["org_id15"]),
        )
        topic = "/event/Switchboard_Interaction__e"
        async with grpc.aio.insecure_channel(self.config["grpc_target"]) as channel:
            stub = pb2_grpc.PubSubStub(channel)
            info = await stub.GetTopic(pb2.TopicRequest(topic_name=topic), metadata=metadata)
            schema_info = await stub.GetSchema(pb2.SchemaRequest(schema_id=info.schema_id), metadata=metadata)
            schema = parse_schema(json.loads(schema_info.schema_json))
            requests: asyncio.Queue = asyncio.Queue()
            await requests.put(
                pb2.FetchRequest(topic_name=topic, replay_preset=pb2.LATEST, num_requested=100)
            )

            async def outgoing():
                while True:
                    yield await requests.get()

            call = stub.Subscribe(outgoing(), metadata=metadata)
            async for response in call:
                for consumer_event in response.events:
                    fields = schemaless_reader(io.BytesIO(consumer_event.event.payload), schema, None)
                    self.on_event(tenant, fields)
                if response.pending_num_requested <= 50:
                    await requests.put(
                        pb2.FetchRequest(topic_name=topic, num_requested=100 - response.pending_num_requested)
                    )

    def on_event(self, tenant: dict, fields: dict) -> None:
        document = json.loads(fields.get("Payload__c") or "{}")
        entry = document.get("payload") or {}
        if entry.get("entryType") != "Message" or (entry.get("sender") or {}).get("role") != "Agent":
            return
        message = (entry.get("entryPayload") or {}).get("abstractMessage") or {}
        text = (message.get("staticContent") or {}).get("text") or ""
        customer = str((document.get("recipient") or {}).get("subject") or "").lstrip("+")
        conversation = f"{tenant['account_key']}|{customer}"
        previous = self.tails.get(conversation)
        self.tails[conversation] = asyncio.create_task(self.send(tenant, customer, text, previous))

    async def send(self, tenant: dict, customer: str, text: str, previous: asyncio.Task | None) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            await self._send(tenant, customer, text)
        except httpx.HTTPError:
            self.failed_sends += 1  # the bare relay has no retry: counted, and the message is lost

    async def _send(self, tenant: dict, customer: str, text: str) -> None:
        await self.post_json(
            f"{self.sandbox}/sim/infobip/whatsapp/1/message/text",
            {
                "from": tenant["sender"],
                "to": customer,
                "messageId": str(uuid.uuid4()),
                "content": {"text": text},
                "notifyUrl": f"{self.config['public_url']}/dlr",
            },
            {"Authorization": f"App {tenant['api_key']}", "Accept": "application/json"},
        )

    async def post_json(self, url: str, body: dict, headers: dict) -> None:
        await self.http.post(url, json=body, headers=headers)


class TightBaseline(Baseline):
    """The same hops on aiohttp's client (one session, keep-alive), the multipart body written by hand."""

    BOUNDARY = "switchboard-baseline-boundary"

    def __init__(self, config: dict) -> None:
        super().__init__(config)
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1000), timeout=aiohttp.ClientTimeout(total=30)
        )
        await super().start()

    async def post_interaction(self, tenant: dict, interaction: dict) -> tuple[int, str]:
        assert self.session is not None
        body = (
            f'--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="json"\r\n'
            f"Content-Type: application/json\r\n\r\n{json.dumps(interaction)}\r\n--{self.BOUNDARY}--\r\n"
        ).encode()
        headers = self.interaction_headers(tenant)
        headers["Content-Type"] = f"multipart/form-data; boundary={self.BOUNDARY}"
        async with self.session.post(
            f"{self.sandbox}/sim/scrt/api/v1/interactions", data=body, headers=headers
        ) as response:
            return response.status, await response.text()

    async def post_json(self, url: str, body: dict, headers: dict) -> None:
        assert self.session is not None
        try:
            async with self.session.post(url, json=body, headers=headers) as response:
                await response.read()
        except aiohttp.ClientError as exc:
            raise httpx.TransportError(str(exc)) from exc  # counted as a failed send, as in the other one


def build_tight(config: dict) -> aiohttp.web.Application:
    baseline = TightBaseline(config)

    async def webhook(request: aiohttp.web.Request) -> aiohttp.web.Response:
        status, answer = await baseline.handle_webhook(
            request.match_info["key"], await request.read(), request.headers.get("x-hub-signature-256", "")
        )
        return aiohttp.web.json_response(answer, status=status)

    async def dlr(request: aiohttp.web.Request) -> aiohttp.web.Response:
        await request.read()
        return aiohttp.web.json_response({})

    async def health(request: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.json_response({"ok": bool(baseline.tokens), "failed_sends": baseline.failed_sends})

    async def lifespan(app: aiohttp.web.Application):
        await baseline.start()
        yield

    app = aiohttp.web.Application()
    app.router.add_post("/webhooks/infobip/{key}/", webhook)
    app.router.add_post("/dlr", dlr)
    app.router.add_get("/healthz", health)
    app.cleanup_ctx.append(lifespan)
    return app


def build(config: dict) -> Starlette:
    baseline = Baseline(config)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await baseline.start()
        yield

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": bool(baseline.tokens), "failed_sends": baseline.failed_sends})

    return Starlette(
        routes=[
            Route("/webhooks/infobip/{key}/", baseline.webhook, methods=["POST"]),
            Route("/dlr", baseline.dlr, methods=["POST"]),
            Route("/healthz", health),
        ],
        lifespan=lifespan,
    )


def main(argv: list[str]) -> None:
    config = json.loads(Path(argv[0]).read_text())
    if config.get("tight"):
        aiohttp.web.run_app(
            build_tight(config), host="127.0.0.1", port=int(config["port"]), access_log=None, print=None
        )
        return
    uvicorn.run(
        build(config), host="127.0.0.1", port=int(config["port"]), log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main(sys.argv[1:])
