"""Helpers for the Interaction Service and agent console tests: an org fixture, tokens, request builders."""

from __future__ import annotations

import json
import time
import uuid

from sandbox.salesforce.ids import to15
from sandbox.salesforce.interaction_spec import OUTBOUND, schema_error

ORG_ID = "00D8d000000ScRT"
OTHER_ORG_ID = "00D8d000000OthR"
CCD = "Switchboard_Messaging"
OTHER_CCD = "Other_Messaging"
EVENT = "Switchboard_Interaction__e"
WHATSAPP = "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a01"
INACTIVE = "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a09"
FOREIGN = "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a08"  # belongs to OTHER_CCD
CUSTOMER = "+447700900123"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def org_spec(org_id: str = ORG_ID, *, ccaas: bool = False, typing_disabled: bool = False) -> dict:
    return {
        "org_id": org_id,
        "name": "Acme Support",
        "my_domain": "acme",
        "ccaas_enabled": ccaas,
        "users": [
            {"username": "integration@acme.test", "name": "Switchboard Integration"},
            {"username": "ada@acme.test", "name": "Ada Agent", "agent": True, "online": True},
            {"username": "grace@acme.test", "name": "Grace Agent", "agent": True, "online": False},
        ],
        "queues": [{"name": "Support", "developer_name": "Support"}, {"name": "Sales", "developer_name": "Sales"}],
        "flows": [{"api_name": "Route_Messaging"}],
        "connected_apps": [{"consumer_key": f"key-{org_id}", "preauthorized": ["integration@acme.test"]}],
        "platform_events": [{"api_name": EVENT}],
        "channel_definitions": [
            {"developer_name": CCD, "platform_event": EVENT, "typing_disabled": typing_disabled},
            {"developer_name": OTHER_CCD, "platform_event": EVENT},
        ],
        "messaging_channels": [
            {"developer_name": "WhatsApp", "channel_address_identifier": WHATSAPP, "channel_definition": CCD,
             "queue": "Support"},
            {"developer_name": "Old", "channel_address_identifier": INACTIVE, "channel_definition": CCD,
             "active": False},
            {"developer_name": "Foreign", "channel_address_identifier": FOREIGN, "channel_definition": OTHER_CCD},
        ],
    }  # fmt: skip


class Salesforce:
    """A loaded org plus a client that speaks the Interaction Service API to the sandbox."""

    def __init__(self, sandbox, sim, **spec) -> None:
        self.sandbox = sandbox
        self.sim = sim
        self.world = sandbox.world
        response = sim.post("/__sim/orgs", json=org_spec(**spec))
        assert response.status_code == 201, response.text
        self.org_id = response.json()["org_id"]
        self.org = self.world.orgs.get(self.org_id)
        self.token = self.issue_token()
        users = {u["Username"]: u for u in self.org.records.all("User")}
        self.ada = users["ada@acme.test"]["Id"]
        self.grace = users["grace@acme.test"]["Id"]
        self.integration = users["integration@acme.test"]["Id"]

    def issue_token(self, scopes: tuple[str, ...] | None = None) -> str:
        def issue():
            user = self.org.user_by_username("integration@acme.test")
            app = next(iter(self.org.connected_apps.values()))
            return self.org.issue_token(user=user, app=app, scopes=scopes).access_token

        return self.sandbox.call(issue)

    def headers(self, **override) -> dict:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "OrgId": to15(self.org_id),
            "AuthorizationContext": CCD,
            "RequestId": str(uuid.uuid4()),
        }
        headers.update(override)
        return {k: v for k, v in headers.items() if v is not None}

    def post_interaction(self, data: dict, files=None, **headers):
        parts = {"json": (None, json.dumps(data), "application/json")}
        multipart = list(parts.items()) + [("attachments", f) for f in (files or [])]
        return self.sim.post(
            "/sim/scrt/api/v1/interactions", files=multipart, headers=self.headers(**headers)
        )

    def post_json(self, path: str, body, *, method: str = "POST", **headers):
        return self.sim.request(
            method,
            f"/sim/scrt/api/v1{path}",
            content=json.dumps(body).encode() if not isinstance(body, bytes) else body,
            headers={"Content-Type": "application/json", **self.headers(**headers)},
        )

    def send_text(self, text: str = "Hello", *, sender: str = CUSTOMER, to: str = WHATSAPP, **extra) -> dict:
        response = self.post_interaction(text_interaction(text, sender=sender, to=to, **extra))
        assert response.status_code == 202, response.text
        return response.json()

    def api(self, path: str) -> str:
        return f"/__sim/console/api/orgs/{self.org_id}{path}"

    def published(self) -> list[dict]:
        """The InteractionEvent payloads on the org's platform event, read from the real event bus."""
        records = self.sandbox.call(self.world.pubsub.events, self.org_id, EVENT)
        return [json.loads(r["Payload__c"]) for r in records if r["EventType__c"] == "Interaction"]

    def wait_published(self, entry_type: str, count: int = 1, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.published() if e["payload"]["entryType"] == entry_type]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


def text_interaction(
    text: str, *, sender: str = CUSTOMER, to: str = WHATSAPP, routing: dict | None = None, **kw
):
    entry_id = kw.pop("entry_id", None) or str(uuid.uuid4())
    data = {
        "to": to,
        "from": sender,
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
                        "staticContent": {"formatType": "Text", "text": text},
                    },
                },
            }
        ],
    }
    if routing is not None:
        data["routingAttributes"] = routing
    return data


def entry_interaction(payload: dict, *, sender: str = CUSTOMER, to: str = WHATSAPP) -> dict:
    return {
        "to": to,
        "from": sender,
        "interactions": [
            {"timestamp": int(time.time() * 1000), "interactionType": "EntryInteraction", "payload": payload}
        ],
    }


def attachment_interaction(size: int, *, index: int = 0, text: str | None = "see file", **extra) -> dict:
    item = {
        "timestamp": int(time.time() * 1000),
        "interactionType": "AttachmentInteraction",
        "id": str(uuid.uuid4()),
        "attachmentIndex": index,
        "contentLength": size,
        "text": text,
        **extra,
    }
    return {"to": WHATSAPP, "from": CUSTOMER, "interactions": [item]}


def drop_nulls(value):
    """Salesforce's documented events carry nulls for absent optional members; read them as absent."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def assert_valid_event(event: dict) -> None:
    """The payload is an InteractionEvent of the outbound YAML (its ParticipantChanged erratum aside)."""
    problem = schema_error("InteractionEvent", drop_nulls(event), spec=OUTBOUND)
    if problem and event["payload"]["entryType"] == "ParticipantChanged" and "'participant'" in problem:
        # The YAML requires a top-level `participant` it defines only inside entries[] (known erratum).
        problem = schema_error(
            "InteractionEvent",
            drop_nulls({**event, "payload": {**event["payload"], "entryPayload": {
                **event["payload"]["entryPayload"], "participant": event["payload"]["sender"]}}}),
            spec=OUTBOUND,
        )  # fmt: skip
    assert problem is None, problem
    assert event["payload"]["entryType"] == event["payload"]["entryPayload"]["entryType"]
