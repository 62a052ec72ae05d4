"""Hostile bytes at every sandbox JSON endpoint are a vendor-shaped 4xx that changes nothing, never a 500.

The class (see ``sandbox/inputs.py``): JSON nested past the interpreter's recursion depth, bytes that are
not UTF-8, ``NaN``/``Infinity`` (not JSON), numbers past float range or Python's digit limit, and digits
that ``str.isdigit`` takes but ``int`` refuses ("²") in numeric query parameters and headers.
"""

from __future__ import annotations

import json
import re

import pytest

from sandbox import inputs
from sandbox.salesforce import messaging
from sandbox.salesforce.scrt import _json_body
from sandbox.salesforce.sobjects import parse_json_body

from .infobip_support import AUTH as INFOBIP_AUTH
from .infobip_support import create_account
from .livechat_support import REST as LIVECHAT_REST
from .livechat_support import create_chat_org
from .livechat_support import headers as livechat_headers
from .scrt_support import Salesforce
from .test_8x8_simulator import AUTH as EIGHT_AUTH
from .test_8x8_simulator import SEND as EIGHT_SEND
from .test_8x8_simulator import account_spec
from .test_scrt_endpoints import ack_body, agent_message

HOSTILE_BODIES = {
    "deep-array": b"[" * 100_000 + b"]" * 100_000,
    "deep-object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "not-utf8": b'{"name": "\xff\xfe\xc3"}',
    "nan": b'{"hours": NaN, "hours_ago": NaN, "status": NaN, "messages": NaN}',
    "infinity": b'{"hours": -Infinity, "api_request_limit": Infinity}',
    "huge-float": b'{"hours": 1e999, "hours_ago": 1e999, "api_request_limit": 1e999}',
    "huge-int": b'{"hours": ' + b"9" * 5000 + b', "api_request_limit": ' + b"9" * 5000 + b"}",
}
ORG = "00D8d000000HoSt"
REQUEST_LOG = re.compile(r"log|\.requests\b", re.IGNORECASE)

# (method, path) of every sandbox endpoint that reads a JSON body; "{org}" is an existing org.
JSON_ENDPOINTS = [
    ("POST", "/__sim/fixture"),
    ("POST", "/__sim/orgs"),
    ("POST", "/__sim/orgs/{org}/connected-apps"),
    ("POST", "/__sim/orgs/{org}/platform-events"),
    ("POST", "/__sim/faults"),
    ("POST", "/__sim/orgs/{org}/settings"),
    ("POST", "/__sim/orgs/{org}/tokens"),
    ("POST", "/__sim/infobip/accounts"),
    ("POST", "/__sim/infobip/inbound"),
    ("POST", "/__sim/infobip/window"),
    ("POST", "/__sim/infobip/conversations"),
    ("POST", "/sim/infobip/whatsapp/1/message/text"),
    ("POST", "/sim/infobip/sms/2/text/advanced"),
    ("POST", "/__sim/8x8/accounts"),
    ("POST", "/__sim/8x8/inbound"),
    ("POST", "/__sim/8x8/window"),
    ("POST", EIGHT_SEND),
    ("PUT", "/__sim/console/api/orgs/{org}/agents/005000000000001/presence"),
    ("PUT", "/__sim/console/api/scrt/error-status"),
    ("PUT", "/__sim/console/api/scrt/upload-result"),
    ("POST", "/sim/livechat/chat/rest/Chasitor/ChasitorInit"),
]


@pytest.fixture
def world_ready(sim, sandbox):
    """An org, an Infobip account, an 8x8 account and a Live Agent session, so bodies reach their readers."""
    assert sim.post("/__sim/orgs", json={"org_id": ORG, "name": "Hostile"}).status_code == 201
    create_account(sim, sandbox)
    assert sim.post("/__sim/8x8/accounts", json=account_spec(sandbox)).status_code in (200, 201)
    create_chat_org(sim)
    session = sim.get(f"{LIVECHAT_REST}/System/SessionId", headers=livechat_headers()).json()
    org = next(o["org_id"] for o in sim.get("/__sim/orgs").json() if o["org_id"].startswith(ORG))
    return {"org": org, "session": session}


def fingerprint(world) -> dict[str, int]:
    """How many items every container reachable from the world holds: a stored row changes a count."""
    counts: dict[str, int] = {}
    seen: set[int] = set()

    def walk(node, path: str, depth: int) -> None:
        if depth > 6 or id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, dict):
            counts[path] = len(node)
            for key, value in list(node.items()):
                walk(value, f"{path}.{key}", depth + 1)
        elif isinstance(node, list | set | tuple):
            counts[path] = len(node)
            for index, value in enumerate(list(node)):
                walk(value, f"{path}[{index}]", depth + 1)
        elif hasattr(node, "__dict__") and type(node).__module__.startswith("sandbox"):
            for key, value in list(vars(node).items()):
                walk(value, f"{path}.{key}", depth + 1)

    walk(world, "world", 0)
    # request logs record refused requests too (that is their point); everything else must stay put
    return {path: count for path, count in counts.items() if not REQUEST_LOG.search(path)}


def headers_for(path: str, ready: dict) -> dict:
    if path.startswith("/sim/infobip"):
        return {**INFOBIP_AUTH, "content-type": "application/json"}
    if path.startswith("/sim/8x8"):
        return {**EIGHT_AUTH, "content-type": "application/json"}
    if path.startswith("/sim/livechat"):
        return livechat_headers(ready["session"], sequence=1)
    return {"content-type": "application/json"}


@pytest.mark.parametrize("body_name", sorted(HOSTILE_BODIES))
def test_hostile_json_bodies_are_refused_and_change_nothing(sim, sandbox, world_ready, body_name):
    body = HOSTILE_BODIES[body_name]
    for method, template in JSON_ENDPOINTS:
        path = template.format(org=world_ready["org"])
        before = sandbox.call(lambda: fingerprint(sandbox.world))
        response = sim.request(method, path, content=body, headers=headers_for(path, world_ready))
        assert 400 <= response.status_code < 500, (method, path, response.status_code, response.text[:300])
        assert sandbox.call(lambda: fingerprint(sandbox.world)) == before, (method, path)


@pytest.mark.parametrize("number", ["²", "٣", "1e3", "NaN", "-", "9" * 5000, " "])
def test_non_ascii_or_odd_digits_in_numeric_parameters_are_refused(sim, sandbox, world_ready, number):
    before = sandbox.call(lambda: fingerprint(sandbox.world))
    session = world_ready["session"]
    answers = {
        "infobip sink status": sim.post(f"/__sim/infobip/sink/probe?status={number}", content=b"{}"),
        "infobip templates page": sim.get(
            "/sim/infobip/whatsapp/1/templates", params={"page": number}, headers=INFOBIP_AUTH
        ),
        "livechat sequence": sim.post(
            f"{LIVECHAT_REST}/Chasitor/ChatMessage",
            json={"text": "hi"},
            headers={
                **livechat_headers(session),
                "X-LIVEAGENT-SEQUENCE": (number.strip() or "x").encode(),
            },  # h11 will not send " "
        ),
        "livechat reconnect offset": sim.get(
            f"{LIVECHAT_REST}/System/ReconnectSession",
            params={"ReconnectSession.offset": number},
            headers=livechat_headers(session),
        ),
        "8x8 window hours": sim.post("/__sim/8x8/window", json={"hours": number}),
        "infobip window hours": sim.post(
            "/__sim/infobip/window",
            json={
                "account": "acme",
                "sender": "447860099299",
                "customer": "447700900123",
                "hours_ago": number,
            },
        ),
    }
    for name, response in answers.items():
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:300])
    assert sandbox.call(lambda: fingerprint(sandbox.world)) == before


@pytest.mark.parametrize("body_name", sorted(HOSTILE_BODIES))
def test_the_shared_reader_refuses_each_as_a_json_decode_error(body_name):
    with pytest.raises(json.JSONDecodeError):
        inputs.parse_json(HOSTILE_BODIES[body_name])


@pytest.mark.parametrize("body_name", sorted(HOSTILE_BODIES))
def test_scrt_bodies_are_refused_with_its_malformed_request_code(body_name):
    """Interaction Service answers code 10100 (its documented error shape) for a body it cannot read."""
    with pytest.raises(messaging.InteractionError) as refused:
        _json_body(HOSTILE_BODIES[body_name])
    assert refused.value.code == 10100


@pytest.mark.parametrize("text", ["²", "٣", "+1", "1.0", "", None, "9" * 19])
def test_whole_number_takes_only_ascii_decimal_digits(text):
    assert inputs.whole_number(text) is None


def test_whole_number_reads_plain_numbers():
    assert [inputs.whole_number(t) for t in ("0", "42", "-7", " 12 ")] == [0, 42, -7, 12]


@pytest.fixture
def sf(sandbox, sim) -> Salesforce:
    return Salesforce(sandbox, sim)


def test_interaction_service_refuses_hostile_bodies_and_odd_digit_timestamps(sf, sim, sandbox):
    conversation, _, entry = agent_message(sf, sim)
    before = sandbox.call(lambda: fingerprint(sandbox.world))
    for body in HOSTILE_BODIES.values():
        for path in ("/interactions", "/acknowledgement"):
            response = sf.post_json(path, body)
            assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:300])
    for stamp in ("²", "٣", "-5", "1e3"):
        ack = ack_body(conversation, entry)
        ack["acknowledgements"][0]["acknowledgementTimestamp"] = stamp
        response = sf.post_json("/acknowledgement", ack)
        assert 400 <= response.status_code < 500, (stamp, response.status_code, response.text[:300])
    assert sandbox.call(lambda: fingerprint(sandbox.world)) == before
    assert sim.get(sf.api("/acknowledgements")).json() == []


@pytest.mark.parametrize("body_name", sorted(HOSTILE_BODIES))
def test_salesforce_rest_bodies_are_its_json_parser_error(body_name):
    """Salesforce REST answers a body it cannot read with 400 JSON_PARSER_ERROR (its error-list shape)."""
    decoded, refused = parse_json_body(HOSTILE_BODIES[body_name])
    assert decoded is None and refused is not None
    assert refused.status == 400 and refused.body[0]["errorCode"] == "JSON_PARSER_ERROR"
