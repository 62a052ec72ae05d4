"""Helpers for the Legacy Chat tests: an org with chat buttons, and a visitor speaking the Chat REST API."""

from __future__ import annotations

import itertools

import httpx

REST = "/sim/livechat/chat/rest"
API_VERSION = "58"
ORG_ID = "00D8d000000LcHt"

ORG_SPEC = {
    "org_id": ORG_ID,
    "name": "Chatty Ltd",
    "legacy_chat_enabled": True,
    "users": [
        {"username": "ada@chatty.test", "name": "Ada Agent", "agent": True, "online": True},
        {"username": "grace@chatty.test", "name": "Grace Agent", "agent": True, "online": False},
        {"username": "linus@chatty.test", "name": "Linus Agent", "agent": True, "online": True},
        {"username": "integration@chatty.test", "name": "Integration"},
    ],
    "queues": [{"name": "Support", "developer_name": "Support"}],
    "livechat": {
        "deployments": [{"developer_name": "Web"}],
        "buttons": [
            {
                "developer_name": "Support_Chat",
                "queue": "Support",
                "agents": ["ada@chatty.test", "linus@chatty.test"],
            },
            {"developer_name": "Ada_Direct", "agents": ["ada@chatty.test"]},
            {"developer_name": "Grace_Direct", "agents": ["grace@chatty.test"]},
        ],
    },
}


def create_chat_org(sim: httpx.Client, **changes) -> dict:
    """Create the test org and return its ids: org, deployment, buttons by name, agents by first name."""
    spec = {**ORG_SPEC, **changes}
    assert sim.post("/__sim/orgs", json=spec).status_code == 201
    state = sim.get(f"/__sim/livechat/orgs/{ORG_ID}").json()
    return {
        "org": ORG_ID,
        "deployment": state["deployments"][0]["id"][:15],
        "buttons": {b["developerName"]: b["id"][:15] for b in state["buttons"]},
        "agents": {a["username"].split("@")[0]: a["id"] for a in state["agents"]},
    }


def headers(session: dict | None = None, *, sequence: int | None = None, affinity: str | None = None) -> dict:
    result = {"X-LIVEAGENT-API-VERSION": API_VERSION, "X-LIVEAGENT-AFFINITY": "null"}
    if session is not None:
        result["X-LIVEAGENT-AFFINITY"] = affinity or session["affinityToken"]
        result["X-LIVEAGENT-SESSION-KEY"] = session["key"]
    if sequence is not None:
        result["X-LIVEAGENT-SEQUENCE"] = str(sequence)
    return result


class Visitor:
    """One chat visitor (what a connector does per customer conversation)."""

    def __init__(self, sim: httpx.Client, ids: dict) -> None:
        self.sim = sim
        self.ids = ids
        response = sim.get(f"{REST}/System/SessionId", headers=headers())
        assert response.status_code == 200, response.text
        self.session = response.json()
        self._sequence = itertools.count(1)
        self.ack = -1
        self.offset = 0  # of the last non-empty Messages answer, for ReconnectSession

    def next_sequence(self) -> int:
        return next(self._sequence)

    def reset_sequence(self) -> None:
        self._sequence = itertools.count(1)

    def init_body(self, **changes) -> dict:
        body = {
            "organizationId": self.ids["org"],
            "deploymentId": self.ids["deployment"],
            "buttonId": self.ids["buttons"]["Support_Chat"],
            "sessionId": self.session["id"],
            "userAgent": "switchboard/1.0",
            "language": "en-US",
            "screenResolution": "1900x1080",
            "visitorName": "Jane Doe",
            "prechatDetails": [
                {
                    "label": "Phone",
                    "value": "+447000000001",
                    "entityMaps": [{"entityName": "Contact", "fieldName": "Phone"}],
                    "transcriptFields": ["Phone__c"],
                    "displayToAgent": True,
                }
            ],
            "prechatEntities": [
                {
                    "entityName": "Contact",
                    "saveToTranscript": "ContactId",
                    "showOnCreate": True,
                    "entityFieldsMaps": [
                        {
                            "fieldName": "Phone",
                            "label": "Phone",
                            "doFind": True,
                            "isExactMatch": True,
                            "doCreate": False,
                        }
                    ],
                }
            ],
            "receiveQueueUpdates": True,
            "isPost": True,
        }
        body.update(changes)
        return {k: v for k, v in body.items() if v is not None}

    def post(
        self, resource: str, body: dict | None = None, *, sequence: int | None = None, **kw
    ) -> httpx.Response:
        seq = sequence if sequence is not None else self.next_sequence()
        return self.sim.post(
            f"{REST}/{resource}", json=body, headers=headers(self.session, sequence=seq, **kw)
        )

    def init(self, **changes) -> httpx.Response:
        return self.post("Chasitor/ChasitorInit", self.init_body(**changes))

    def poll(self, ack: int | None = None, **kw) -> httpx.Response:
        """One ``System/Messages`` long poll; remembers the sequence to acknowledge next time."""
        response = self.sim.get(
            f"{REST}/System/Messages",
            params={"ack": self.ack if ack is None else ack},
            headers=headers(self.session, **kw),
        )
        if response.status_code == 200:
            self.ack = response.json()["sequence"]
            self.offset = response.json()["offset"]
        return response

    def messages(self) -> list[dict]:
        """The next batch of messages (fails the test on 204 or an error)."""
        response = self.poll()
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()["messages"]

    def types(self) -> list[str]:
        return [m["type"] for m in self.messages()]

    def chat(self) -> dict:
        return self.sim.get(f"/__sim/livechat/chats/{self.session['id']}").json()
