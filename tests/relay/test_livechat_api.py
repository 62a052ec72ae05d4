"""The Legacy Chat visitor client (relay/desks/livechat_api.py) and the live configuration check
(relay/desks/livechat_check.py), against the sandbox's Chat REST API."""

from __future__ import annotations

import pytest

from portal.console.snippets import parse_legacy_chat
from relay.desks.livechat_api import AFFINITY_CHANGED, SESSION_GONE, ChatApi, ChatSession
from relay.desks.livechat_check import check_chat_configuration
from relay.errors import ExternalError
from tests.e2e.conftest import wait_for
from tests.relay.livechat_snippets import setup_snippets
from tests.sandbox.livechat_support import REST, create_chat_org


@pytest.fixture
def ids(sim):
    return create_chat_org(sim)


@pytest.fixture
def api(sandbox):
    return ChatApi(sandbox.base_url + REST + "/")


def init_body(sim, ids, session: ChatSession) -> dict:
    return {
        "organizationId": ids["org"],
        "deploymentId": ids["deployment"],
        "buttonId": ids["buttons"]["Support_Chat"],
        "sessionId": session.id,
        "userAgent": "switchboard-test",
        "language": "en-US",
        "screenResolution": "0x0",
        "visitorName": "Jane Doe",
        "prechatDetails": [],
        "prechatEntities": [],
        "receiveQueueUpdates": True,
        "isPost": True,
    }


def start_chat(api, sim, ids) -> ChatSession:
    session = api.new_session()
    session.sequence += 1
    api.post(session, "Chasitor/ChasitorInit", init_body(sim, ids, session), sequence=session.sequence)
    assert [m["type"] for m in api.poll(session)] == ["ChatRequestSuccess"]
    return session


def accept(sim, session: ChatSession, agent: str = "ada@chatty.test") -> str:
    chat = sim.get(f"/__sim/livechat/chats/{session.id}").json()
    assert sim.post(f"/__sim/livechat/chats/{chat['id']}/accept", json={"agent": agent}).status_code == 200
    return chat["id"]


def test_a_chat_both_ways_with_acks(api, sim, ids):
    session = start_chat(api, sim, ids)
    chat_id = accept(sim, session)
    assert [m["type"] for m in api.poll(session)] == ["ChatEstablished"]
    session.sequence += 1
    api.post(session, "Chasitor/ChatMessage", {"text": "hello"}, sequence=session.sequence)
    session.sequence += 1
    api.post(session, "Chasitor/ChatMessage", {"text": "again"}, sequence=session.sequence)
    # A POST repeated with its sequence (a lost answer, a retry) is not applied twice.
    api.post(session, "Chasitor/ChatMessage", {"text": "again"}, sequence=session.sequence)
    assert sim.get(f"/__sim/livechat/chats/{chat_id}").json()["visitorMessages"] == ["hello", "again"]
    sim.post(f"/__sim/livechat/chats/{chat_id}/messages", json={"text": "Hi, Ada here"})
    messages = api.poll(session)
    assert [(m["type"], m["message"].get("text")) for m in messages] == [("ChatMessage", "Hi, Ada here")]
    acked = session.ack
    assert api.poll(session) == []  # 204: nothing new, same ack
    assert session.ack == acked


def test_session_survives_a_round_trip_through_storage_without_showing_its_key(api, sim, ids):
    session = start_chat(api, sim, ids)
    stored = ChatSession.from_dict(session.as_dict())
    assert stored == session
    assert session.key not in repr(session)


def test_503_then_reconnect_resets_the_sequence_and_keeps_the_messages(api, sim, ids):
    session = start_chat(api, sim, ids)
    chat_id = accept(sim, session)
    api.poll(session)
    sim.post(f"/__sim/livechat/chats/{chat_id}/messages", json={"text": "are you there?"})
    assert sim.post(f"/__sim/livechat/sessions/{session.id}/affinity-change").status_code == 200
    with pytest.raises(ExternalError) as refused:
        api.poll(session)
    assert refused.value.code == AFFINITY_CHANGED and not refused.value.permanent
    old_affinity = session.affinity
    api.reconnect(session)
    assert session.affinity != old_affinity and session.sequence == 0
    types = []
    texts = []
    for message in api.poll(session):
        types.append(message["type"])
        texts.append(message["message"].get("text"))
    assert types[0] == "ChasitorSessionData" and "are you there?" in texts
    session.sequence += 1  # starts again at 1 and is applied
    api.post(session, "Chasitor/ChatMessage", {"text": "yes"}, sequence=session.sequence)
    assert sim.get(f"/__sim/livechat/chats/{chat_id}").json()["visitorMessages"] == ["yes"]


def test_agent_end_then_session_gone(api, sim, ids):
    session = start_chat(api, sim, ids)
    chat_id = accept(sim, session)
    api.poll(session)
    sim.post(f"/__sim/livechat/chats/{chat_id}/end", json={})
    ended = wait_for(lambda: [m for m in api.poll(session) if m["type"] == "ChatEnded"], timeout=10)
    assert ended[0]["message"]["reason"] == "agent"
    with pytest.raises(ExternalError) as gone:
        api.poll(session)
    assert gone.value.code == SESSION_GONE and gone.value.permanent


def test_availability_follows_the_agents(api, sim, ids):
    button = ids["buttons"]["Grace_Direct"]
    assert api.availability(ids["org"], ids["deployment"], [button]) == {button: False}
    sim.post(f"/__sim/livechat/orgs/{ids['org']}/agents/grace@chatty.test/presence", json={"online": True})
    assert api.availability(ids["org"], ids["deployment"], [button]) == {button: True}


# --- the live configuration check ----------------------------------------------------------------------------


def test_a_right_configuration_passes(sandbox, ids):
    check = check_chat_configuration(
        sandbox.base_url + REST, ids["org"], ids["deployment"], ids["buttons"]["Support_Chat"]
    )
    assert check.ok and check.available


@pytest.mark.parametrize(
    ("wrong", "blamed", "words"),
    [
        ("endpoint", "chat_api_endpoint", "does not answer as a Chat API endpoint"),
        ("org", "org_id", "does not serve the org"),
        ("deployment", "deployment_id", "refused the deployment id"),
        ("button", "button_id", "has no chat button"),
    ],
)
def test_each_wrong_value_is_named(sandbox, ids, wrong, blamed, words):
    values = {
        "endpoint": sandbox.base_url + REST,
        "org": ids["org"],
        "deployment": ids["deployment"],
        "button": ids["buttons"]["Support_Chat"],
    }
    values[wrong] = {
        "endpoint": sandbox.base_url + "/sim/livechat/nothing/here",
        "org": "00D8d000000ZZZZ",
        "deployment": "57Z000000000001",
        "button": "573000000000999",
    }[wrong]
    check = check_chat_configuration(
        values["endpoint"], values["org"], values["deployment"], values["button"]
    )
    assert list(check.errors) == [blamed]
    assert words in check.errors[blamed]


@pytest.mark.parametrize(
    ("wrong", "blamed", "words"),
    [
        ("chat_url", "chat_api_endpoint", "does not answer as a Chat API endpoint"),
        ("org", "org_id", "does not serve the org"),
        ("button", "button_id", "has no chat button"),
        (None, None, ""),
    ],
)
def test_pasted_snippets_alone_are_checked_with_the_wrong_id_named(sandbox, ids, wrong, blamed, words):
    values = {
        "chat_url": sandbox.base_url + "/sim/livechat/chat",
        "deployment": ids["deployment"],
        "org": ids["org"],
        "button": ids["buttons"]["Support_Chat"],
    }
    if wrong:
        values[wrong] = {
            "chat_url": sandbox.base_url + "/sim/core/chat",
            "org": "00D8d000000ZZZZ",
            "button": "5738d000000ZZZZ",
        }[wrong]
    parsed = parse_legacy_chat(
        *setup_snippets(values["chat_url"], values["deployment"], values["org"], values["button"])
    )
    check = check_chat_configuration(
        parsed.chat_api_endpoint, parsed.org_id, parsed.deployment_id, parsed.button_id
    )
    if wrong is None:
        assert check.ok and check.available
    else:
        assert list(check.errors) == [blamed] and words in check.errors[blamed]
