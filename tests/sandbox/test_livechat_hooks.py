"""The simulated Legacy Chat agents (JSON hooks) and what they make the visitor receive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .livechat_support import ORG_ID, Visitor, create_chat_org


@pytest.fixture
def ids(sim):
    return create_chat_org(sim)


@pytest.fixture
def visitor(sim, ids):
    return Visitor(sim, ids)


def act(sim, chat_id, action, **body):
    return sim.post(f"/__sim/livechat/chats/{chat_id}/{action}", json=body)


def waiting_chat(visitor, **init) -> str:
    assert visitor.init(**init).text == "OK"
    assert visitor.types() == ["ChatRequestSuccess"]
    return visitor.chat()["id"]


def test_agent_accepts_replies_types_and_ends(sim, ids, visitor):
    chat_id = waiting_chat(visitor)
    accepted = act(sim, chat_id, "accept", agent="ada@chatty.test")
    assert accepted.status_code == 200 and accepted.json()["status"] == "InProgress"
    [established] = visitor.messages()
    assert established["type"] == "ChatEstablished"
    assert established["message"]["name"] == "Ada Agent"
    assert established["message"]["userId"] == ids["agents"]["ada"]
    assert set(established["message"]) >= {"sneakPeekEnabled", "chasitorIdleTimeout"}

    assert act(sim, chat_id, "typing", typing=True).status_code == 200
    assert act(sim, chat_id, "typing", typing=False).status_code == 200
    assert act(sim, chat_id, "messages", text="How can I help?").status_code == 200
    batch = visitor.messages()
    assert [m["type"] for m in batch] == ["AgentTyping", "AgentNotTyping", "ChatMessage"]
    assert batch[2]["message"] == {
        "name": "Ada Agent",
        "text": "How can I help?",
        "agentId": ids["agents"]["ada"],
        "schedule": {"responseDelayMilliseconds": 0},
    }

    ended = act(sim, chat_id, "end")
    assert (ended.json()["status"], ended.json()["endedBy"]) == ("Completed", "Agent")
    assert visitor.messages() == [
        {"type": "ChatEnded", "message": {"reason": "agent", "attachedRecords": []}}
    ]
    assert visitor.poll().status_code == 403


def test_inspect_shows_everything_the_visitor_sent_in_order(sim, visitor):
    chat_id = waiting_chat(visitor)
    act(sim, chat_id, "accept", agent="ada@chatty.test")
    visitor.post("Chasitor/ChatMessage", {"text": "hi"})
    act(sim, chat_id, "messages", text="hello Jane")
    visitor.post("Chasitor/ChatMessage", {"text": "where is my parcel?"})
    chat = sim.get(f"/__sim/livechat/chats/{chat_id}").json()
    assert [(e["type"], e["content"]) for e in chat["transcript"]] == [
        ("Chasitor", "hi"),
        ("Agent", "hello Jane"),
        ("Chasitor", "where is my parcel?"),
    ]
    assert chat["visitorName"] == "Jane Doe"
    assert chat["prechatDetails"][0]["value"] == "+447000000001"
    assert chat["prechatEntities"][0]["entityFieldsMaps"][0]["fieldName"] == "Phone"
    assert [e["type"] for e in chat["visitorSent"]] == ["ChasitorInit", "ChatMessage", "ChatMessage"]
    listed = sim.get("/__sim/livechat/chats", params={"org": ORG_ID}).json()
    assert [c["id"] for c in listed] == [chat_id]


def test_transfer_tells_the_visitor(sim, ids, visitor):
    chat_id = waiting_chat(visitor)
    act(sim, chat_id, "accept", agent="ada@chatty.test")
    visitor.messages()
    moved = act(sim, chat_id, "transfer", agent="linus@chatty.test")
    assert moved.json()["agentId"] == ids["agents"]["linus"]
    [transferred] = visitor.messages()
    assert transferred["type"] == "ChatTransferred"
    assert (transferred["message"]["name"], transferred["message"]["userId"]) == (
        "Linus Agent",
        ids["agents"]["linus"],
    )


def test_chat_pinned_to_an_agent_is_only_for_that_agent(sim, ids, visitor):
    chat_id = waiting_chat(visitor, buttonId=ids["buttons"]["Ada_Direct"])
    refused = act(sim, chat_id, "accept", agent="linus@chatty.test")
    assert (refused.status_code, refused.json()["error"]) == (409, "agent does not serve this chat's button")
    assert act(sim, chat_id, "accept", agent="ada@chatty.test").status_code == 200


def test_direct_agent_chat_refuses_other_agents(sim, ids, visitor):
    chat_id = waiting_chat(visitor, agentId=ids["agents"]["ada"], doFallback=False)
    refused = act(sim, chat_id, "accept", agent="linus@chatty.test")
    assert (refused.status_code, refused.json()["error"]) == (409, "chat is routed to another agent")


@pytest.mark.parametrize(
    ("action", "body", "status", "error"),
    [
        ("accept", {"agent": "grace@chatty.test"}, 409, "agent is offline"),
        (
            "accept",
            {"agent": "nobody@chatty.test"},
            400,
            "agent must name a user of this org (username or id)",
        ),
        ("accept", {"agent": "integration@chatty.test"}, 409, "not a chat agent of this org"),
        ("messages", {"text": "too early"}, 409, "chat is Waiting, not InProgress"),
        ("typing", {"typing": True}, 409, "chat is Waiting, not InProgress"),
        ("transfer", {"agent": "linus@chatty.test"}, 409, "chat is Waiting, not InProgress"),
    ],
)
def test_agent_action_errors(sim, visitor, action, body, status, error):
    chat_id = waiting_chat(visitor)
    response = act(sim, chat_id, action, **body)
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert sim.get(f"/__sim/livechat/chats/{chat_id}").json()["status"] == "Waiting"


def test_agent_actions_on_unknown_or_finished_chats(sim, visitor):
    assert act(sim, "5708d0000000zzz", "accept", agent="ada@chatty.test").status_code == 404
    assert sim.get("/__sim/livechat/chats/nope").status_code == 404
    chat_id = waiting_chat(visitor)
    assert act(sim, chat_id, "end").status_code == 200
    again = act(sim, chat_id, "end")
    assert (again.status_code, again.json()["error"]) == (409, "chat is already Missed")


def test_queue_updates_when_the_chat_ahead_is_taken(sim, ids):
    first, second = Visitor(sim, ids), Visitor(sim, ids)
    first_chat = waiting_chat(first)
    second.init()
    [success] = second.messages()
    assert success["message"]["queuePosition"] == 2
    act(sim, first_chat, "accept", agent="ada@chatty.test")
    assert second.messages() == [{"type": "QueueUpdate", "message": {"position": 1, "estimatedWaitTime": 30}}]


def test_presence_hook_switches_agents(sim, ids):
    response = sim.post(
        f"/__sim/livechat/orgs/{ORG_ID}/agents/grace@chatty.test/presence", json={"online": True}
    )
    assert response.json() == {"id": ids["agents"]["grace"], "isOnline": True}
    state = sim.get(f"/__sim/livechat/orgs/{ORG_ID}").json()
    grace_direct = next(b for b in state["buttons"] if b["developerName"] == "Grace_Direct")
    assert grace_direct["isAvailable"] is True
    bad = sim.post(f"/__sim/livechat/orgs/{ORG_ID}/agents/grace@chatty.test/presence", json={"online": "yes"})
    assert bad.status_code == 400
    unknown = sim.post(
        f"/__sim/livechat/orgs/{ORG_ID}/agents/integration@chatty.test/presence", json={"online": True}
    )
    assert unknown.status_code == 404


def test_config_hook_adds_buttons(sim, ids):
    created = sim.post(
        f"/__sim/livechat/orgs/{ORG_ID}/config",
        json={"buttons": [{"developer_name": "Linus_Direct", "agents": ["linus@chatty.test"]}]},
    )
    assert created.status_code == 201
    linus = next(b for b in created.json()["buttons"] if b["developerName"] == "Linus_Direct")
    assert linus["id"].startswith("573") and linus["servingAgentIds"] == [ids["agents"]["linus"]]
    bad = sim.post(
        f"/__sim/livechat/orgs/{ORG_ID}/config", json={"buttons": [{"developer_name": "X", "queue": "Nope"}]}
    )
    assert bad.status_code == 400


def test_queue_button_without_explicit_agents_uses_queue_members(sim, sandbox, ids):
    created = sim.post(
        f"/__sim/livechat/orgs/{ORG_ID}/config",
        json={"buttons": [{"developer_name": "Q", "queue": "Support"}]},
    )
    button = next(b for b in created.json()["buttons"] if b["developerName"] == "Q")
    everyone = set(ids["agents"].values())
    assert set(button["servingAgentIds"]) == everyone  # no GroupMember rows: every agent

    def add_member():
        org = sandbox.world.orgs.get(ORG_ID)
        org.records.insert(
            "GroupMember", {"GroupId": button["queueId"], "UserOrGroupId": ids["agents"]["grace"]}
        )

    sandbox.call(add_member)
    state = sim.get(f"/__sim/livechat/orgs/{ORG_ID}").json()
    q = next(b for b in state["buttons"] if b["developerName"] == "Q")
    assert q["servingAgentIds"] == [ids["agents"]["grace"]] and q["isAvailable"] is False


def test_transcript_record_follows_the_chat(sim, sandbox, ids, visitor):
    chat_id = waiting_chat(visitor)
    act(sim, chat_id, "accept", agent="ada@chatty.test")
    visitor.post("Chasitor/ChatMessage", {"text": "thanks"})
    act(sim, chat_id, "end")

    def record():
        return dict(sandbox.world.orgs.get(ORG_ID).records.get("LiveChatTranscript", chat_id))

    row = sandbox.call(record)
    assert (row["Status"], row["OwnerId"], row["EndedBy"]) == ("Completed", ids["agents"]["ada"], "Agent")
    assert row["LiveChatButtonId"][:15] == ids["buttons"]["Support_Chat"]
    assert "thanks" in row["Body"]


def test_demo_fixture_has_a_queue_button_and_a_pinned_button(sim):
    demo = json.loads((Path(__file__).resolve().parents[2] / "sandbox/fixtures/demo.json").read_text())
    assert sim.post("/__sim/fixture", json=demo).status_code == 201
    org_id = demo["orgs"][0]["org_id"]
    state = sim.get(f"/__sim/livechat/orgs/{org_id}").json()
    assert state["legacyChatEnabled"] is True and len(state["deployments"]) == 1
    buttons = {b["developerName"]: b for b in state["buttons"]}
    ada = next(a for a in state["agents"] if a["username"] == "ada@acme.demo")
    assert buttons["Ada_Direct"]["servingAgentIds"] == [ada["id"]]
    assert buttons["Support_Chat"]["queueId"].startswith("00G")
    assert buttons["Ada_Direct"]["isAvailable"] and buttons["Support_Chat"]["isAvailable"]
    sim.post(f"/__sim/livechat/orgs/{org_id}/agents/ada@acme.demo/presence", json={"online": False})
    state = sim.get(f"/__sim/livechat/orgs/{org_id}").json()
    assert not any(b["isAvailable"] for b in state["buttons"])  # Grace, the other agent, is offline
