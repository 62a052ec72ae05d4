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
        tenant = self.tenants.get(request.path_params["key"])
        if tenant is None:
            return JSONResponse({"error": "unknown account"}, status_code=404)
        body = await request.body()
        expected = "sha256=" + hmac.new(tenant["webhook_secret"].encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        for result in json.loads(body)["results"]:
            entry_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant['account_key']}:{result['messageId']}"))
            interaction = {
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
            response = await self.http.post(
                f"{self.sandbox}/sim/scrt/api/v1/interactions",
                files=[("json", (None, json.dumps(interaction).encode(), "application/json"))],
                headers={
                    "Authorization": f"Bearer {self.tokens[tenant['account_key']]}",
                    "OrgId": tenant["org_id15"],
                    "AuthorizationContext": "Switchboard_Messaging",
                    "RequestId": str(uuid.uuid4()),
                    "Accept": "application/json",
                },
            )
            if response.status_code >= 300:
                return JSONResponse({"error": response.text}, status_code=502)
        return JSONResponse({"accepted": 1})

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
        await self.http.post(
            f"{self.sandbox}/sim/infobip/whatsapp/1/message/text",
            json={
                "from": tenant["sender"],
                "to": customer,
                "messageId": str(uuid.uuid4()),
                "content": {"text": text},
                "notifyUrl": f"{self.config['public_url']}/dlr",
            },
            headers={"Authorization": f"App {tenant['api_key']}", "Accept": "application/json"},
        )


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
    uvicorn.run(
        build(config), host="127.0.0.1", port=int(config["port"]), log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main(sys.argv[1:])
