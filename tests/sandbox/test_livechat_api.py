"""Contract tests of the Legacy Chat (Live Agent) Chat REST API simulator: each resource, valid and errors."""

from __future__ import annotations

import concurrent.futures
import time

import pytest

from .livechat_support import ORG_ID, REST, Visitor, create_chat_org, headers

SESSION_GONE = "Session required but was invalid or not found"
RETIRED = (
    "Chat is not available for this organization: the legacy chat product was retired on February 14, 2026."
)


@pytest.fixture
def ids(sim):
    return create_chat_org(sim)


@pytest.fixture
def visitor(sim, ids):
    return Visitor(sim, ids)


def accept(sim, visitor, agent="ada@chatty.test"):
    chat = visitor.chat()
    response = sim.post(f"/__sim/livechat/chats/{chat['id']}/accept", json={"agent": agent})
    assert response.status_code == 200, response.text
    return chat["id"]


def established(sim, visitor) -> str:
    """A visitor whose chat Ada accepted, with every message so far read."""
    assert visitor.init().text == "OK"
    assert visitor.types() == ["ChatRequestSuccess"]
    chat_id = accept(sim, visitor)
    assert visitor.types() == ["ChatEstablished"]
    return chat_id


# -- System/SessionId -------------------------------------------------------------------------------
def test_session_id_returns_credentials(sim):
    response = sim.get(f"{REST}/System/SessionId", headers=headers())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"clientPollTimeout", "key", "affinityToken", "id"}
    assert body["clientPollTimeout"] == 40
    assert body["key"].startswith(body["id"] + "!")
    assert len(body["affinityToken"]) == 8


@pytest.mark.parametrize(
    ("drop", "version", "expected"),
    [
        ("X-LIVEAGENT-API-VERSION", None, "Missing required header: X-LIVEAGENT-API-VERSION"),
        (None, "abc", "Invalid value for header X-LIVEAGENT-API-VERSION: abc"),
        (None, "20", "Unsupported API version: 20"),
        ("X-LIVEAGENT-AFFINITY", None, "Missing required header: X-LIVEAGENT-AFFINITY"),
    ],
)
def test_session_id_header_errors(sim, drop, version, expected):
    sent = headers()
    if drop:
        del sent[drop]
    if version:
        sent["X-LIVEAGENT-API-VERSION"] = version
    response = sim.get(f"{REST}/System/SessionId", headers=sent)
    assert (response.status_code, response.text) == (400, expected)


def test_unknown_resource_and_wrong_method(sim):
    assert sim.get(f"{REST}/System/Nope", headers=headers()).status_code == 404
    assert sim.post(f"{REST}/System/SessionId", headers=headers()).status_code == 405


# -- Chasitor/ChasitorInit --------------------------------------------------------------------------
def test_chasitor_init_answers_ok_then_chat_request_success(sim, visitor):
    response = visitor.init()
    assert (response.status_code, response.text) == (200, "OK")
    batch = visitor.poll().json()
    assert batch["sequence"] == 1 and isinstance(batch["offset"], int)
    [message] = batch["messages"]
    assert message["type"] == "ChatRequestSuccess"
    success = message["message"]
    assert success["queuePosition"] == 1
    assert set(success["geoLocation"]) >= {"countryCode", "countryName", "region", "city", "organization"}
    assert success["customDetails"][0]["label"] == "Phone"
    assert success["customDetails"][0]["value"] == "+447000000001"
    assert {"url", "visitorId", "estimatedWaitTime", "connectionTimeout", "sensitiveDataRules"} <= set(
        success
    )
    chat = visitor.chat()
    assert chat["status"] == "Waiting"
    assert chat["prechatDetails"][0]["transcriptFields"] == ["Phone__c"]
    assert chat["prechatEntities"][0]["entityName"] == "Contact"


def test_chasitor_init_creates_transcript_and_visitor_records(sim, visitor):
    visitor.init()
    chat = visitor.chat()
    assert chat["id"].startswith("570") and chat["liveChatVisitorId"].startswith("571")


def test_chasitor_init_with_nobody_online_fails_unavailable_and_closes_the_session(sim, ids, visitor):
    visitor.init(buttonId=ids["buttons"]["Grace_Direct"])
    assert visitor.messages() == [
        {
            "type": "ChatRequestFail",
            "message": {"reason": "Unavailable", "attachedRecords": [], "postChatUrl": ""},
        }
    ]
    after = visitor.poll()
    assert (after.status_code, after.text) == (403, SESSION_GONE)
    assert visitor.chat()["status"] == "Missed"


@pytest.mark.parametrize(
    ("targets", "expect_agent", "expect_button"),
    [
        (["Grace_Direct", "Support_Chat"], None, "Support_Chat"),  # later targets when earlier fail
        (["agent:ada"], "ada", None),  # an agent id: direct, no fallback
        (["agent:grace_Support_Chat"], None, "Support_Chat"),  # agent_button: the agent, else the button
        (["agent:ada_Support_Chat"], "ada", "Support_Chat"),
    ],
)
def test_button_overrides_route_in_order(sim, ids, visitor, targets, expect_agent, expect_button):
    def resolve(target: str) -> str:
        if target.startswith("agent:"):
            agent, _, button = target[len("agent:") :].partition("_")
            return ids["agents"][agent][:15] + (f"_{ids['buttons'][button]}" if button else "")
        return ids["buttons"][target]

    visitor.init(buttonOverrides=[resolve(t) for t in targets])
    assert visitor.types() == ["ChatRequestSuccess"]
    chat = visitor.chat()
    assert chat["targetAgentId"] == (ids["agents"][expect_agent] if expect_agent else None)
    expected_button = ids["buttons"][expect_button] if expect_button else None
    assert (chat["buttonId"] or "")[:15] == (expected_button or "")


def test_button_overrides_with_nobody_available_fail(sim, ids, visitor):
    visitor.init(buttonOverrides=[ids["agents"]["grace"], ids["buttons"]["Grace_Direct"]])
    assert visitor.messages()[0]["message"]["reason"] == "Unavailable"


@pytest.mark.parametrize(
    ("do_fallback", "outcome"), [(False, "ChatRequestFail"), (True, "ChatRequestSuccess")]
)
def test_agent_id_with_and_without_fallback(sim, ids, visitor, do_fallback, outcome):
    visitor.init(agentId=ids["agents"]["grace"], doFallback=do_fallback)
    assert visitor.types() == [outcome]


def test_agent_id_of_online_agent_pins_the_chat(sim, ids, visitor):
    visitor.init(agentId=ids["agents"]["ada"][:15], doFallback=False)
    assert visitor.types() == ["ChatRequestSuccess"]
    assert visitor.chat()["targetAgentId"] == ids["agents"]["ada"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"prechatDetails": None}, "ChasitorInit requires a non-null value on the prechatDetails property"),
        ({"sessionId": None}, "ChasitorInit requires a non-null value on the sessionId property"),
        ({"isPost": None}, "ChasitorInit requires a non-null value on the isPost property"),
        ({"buttonId": None}, "ChasitorInit requires a non-null value on the buttonId property"),
        ({"isPost": "yes"}, "isPost must be a boolean"),
        ({"prechatDetails": "Phone"}, "prechatDetails must be an array of objects"),
        ({"buttonId": "abc"}, "invalid buttonId: abc"),
        ({"buttonOverrides": ["005_573"]}, "invalid buttonOverrides entry: 005_573"),
        ({"organizationId": "00Dshort"}, "invalid organizationId: 00Dshort"),
        (
            {"sessionId": "not-this-session"},
            "sessionId does not match the session of X-LIVEAGENT-SESSION-KEY",
        ),
    ],
)
def test_chasitor_init_body_errors(sim, visitor, change, expected):
    response = visitor.init(**change)
    assert (response.status_code, response.text) == (400, f"Request is not a valid ChasitorInit - {expected}")
    assert sim.get("/__sim/livechat/chats").json() == []


def test_chasitor_init_malformed_json(sim, visitor):
    response = sim.post(
        f"{REST}/Chasitor/ChasitorInit", content=b"{nope", headers=headers(visitor.session, sequence=1)
    )
    assert (response.status_code, response.text) == (
        400,
        "Request is not a valid ChasitorInit - the request body is not valid JSON",
    )


def test_chasitor_init_for_retired_org_is_not_found(sim, visitor):
    assert sim.post(f"/__sim/livechat/orgs/{ORG_ID}", json={"legacy_chat_enabled": False}).status_code == 200
    response = visitor.init()
    assert (response.status_code, response.text) == (404, RETIRED)


def test_legacy_chat_is_retired_by_default(sim):
    create_chat_org(sim, legacy_chat_enabled=None)
    response = sim.get(
        f"{REST}/Visitor/Availability",
        params={
            "org_id": ORG_ID,
            "deployment_id": "572000000000001",
            "Availability.ids": "[573000000000001]",
        },
        headers=headers(),
    )
    assert (response.status_code, response.text) == (404, RETIRED)


def test_chasitor_init_for_unknown_org_is_not_found(sim, visitor):
    response = visitor.init(organizationId="00D000000000001")
    assert (response.status_code, response.text) == (404, RETIRED)


def test_chasitor_init_with_unknown_deployment_fails_unavailable(sim, visitor):
    visitor.init(deploymentId="572000000000009")
    assert visitor.messages()[0] == {
        "type": "ChatRequestFail",
        "message": {"reason": "Unavailable", "attachedRecords": [], "postChatUrl": ""},
    }


def test_replayed_chasitor_init_is_not_applied_twice(sim, visitor):
    body = visitor.init_body()
    first = visitor.post("Chasitor/ChasitorInit", body, sequence=1)
    replay = visitor.post("Chasitor/ChasitorInit", body, sequence=1)
    assert (first.text, replay.text) == ("OK", "OK")
    assert len(sim.get("/__sim/livechat/chats").json()) == 1
    assert visitor.types() == ["ChatRequestSuccess"]


def test_second_chasitor_init_in_one_session_is_refused(sim, visitor):
    visitor.init()
    again = visitor.init()
    assert (again.status_code, again.text) == (
        400,
        "Request is not a valid ChasitorInit - a chat has already been requested in this session",
    )


@pytest.mark.parametrize(
    ("kwargs", "status", "text"),
    [
        ({"key": "nope"}, 403, SESSION_GONE),
        ({"affinity": "deadbeef"}, 503, "Invalid Affinity Token"),
        ({"sequence": None}, 400, "Missing required header: X-LIVEAGENT-SEQUENCE"),
        ({"sequence": "x"}, 400, "Invalid value for header X-LIVEAGENT-SEQUENCE: x"),
        ({"version": None}, 400, "Missing required header: X-LIVEAGENT-API-VERSION"),
    ],
)
def test_chasitor_init_header_errors(sim, visitor, kwargs, status, text):
    sent = headers(visitor.session, sequence=1, affinity=kwargs.get("affinity"))
    if "key" in kwargs:
        sent["X-LIVEAGENT-SESSION-KEY"] = kwargs["key"]
    if "sequence" in kwargs:
        sent.pop("X-LIVEAGENT-SEQUENCE")
        if kwargs["sequence"] is not None:
            sent["X-LIVEAGENT-SEQUENCE"] = kwargs["sequence"]
    if "version" in kwargs:
        sent.pop("X-LIVEAGENT-API-VERSION")
    response = sim.post(f"{REST}/Chasitor/ChasitorInit", json=visitor.init_body(), headers=sent)
    assert (response.status_code, response.text) == (status, text)
    assert sim.get("/__sim/livechat/chats").json() == []


# -- System/Messages --------------------------------------------------------------------------------
def test_messages_without_news_answers_204_after_the_long_poll(sim, visitor):
    response = visitor.poll()
    assert response.status_code == 204
    assert response.content == b""


def test_messages_ack_forgets_acknowledged_messages(sim, visitor):
    visitor.init()
    first = visitor.poll(ack=-1).json()
    again = visitor.poll(ack=-1).json()  # not acknowledged: delivered again
    assert first == again
    assert visitor.poll(ack=first["sequence"]).status_code == 204


def test_messages_long_poll_wakes_on_agent_action(sandbox, sim, visitor):
    visitor.init()
    visitor.messages()
    sandbox.call(setattr, sandbox.world.config, "long_poll_seconds", 8.0)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            waiting = pool.submit(visitor.poll)
            accept(sim, visitor)
            response = waiting.result(timeout=10)
            elapsed = time.monotonic() - started
    finally:
        sandbox.call(setattr, sandbox.world.config, "long_poll_seconds", 1.0)
    assert response.status_code == 200
    assert [m["type"] for m in response.json()["messages"]] == ["ChatEstablished"]
    assert elapsed < 6  # woken by the event, not by the 8 s timeout


def test_messages_bad_ack_and_unknown_session(sim, visitor):
    bad = visitor.poll(ack="x")
    assert (bad.status_code, bad.text) == (400, "Invalid value for parameter ack: x")
    sent = headers(visitor.session)
    sent["X-LIVEAGENT-SESSION-KEY"] = "unknown"
    gone = sim.get(f"{REST}/System/Messages", params={"ack": -1}, headers=sent)
    assert (gone.status_code, gone.text) == (403, SESSION_GONE)


# -- 503 → System/ReconnectSession ------------------------------------------------------------------
def test_affinity_change_gives_503_until_reconnect(sim, visitor):
    established(sim, visitor)
    assert visitor.post("Chasitor/ChatMessage", {"text": "before"}).text == "OK"
    change = sim.post(f"/__sim/livechat/sessions/{visitor.session['id']}/affinity-change")
    assert change.status_code == 200

    stale = visitor.poll()
    assert (stale.status_code, stale.text) == (503, "Invalid Affinity Token")
    refused = visitor.post("Chasitor/ChatMessage", {"text": "lost?"})
    assert (refused.status_code, refused.text) == (503, "Invalid Affinity Token")

    reconnect = sim.get(
        f"{REST}/System/ReconnectSession",
        params={"ReconnectSession.offset": visitor.offset},
        headers={**headers(visitor.session), "X-LIVEAGENT-AFFINITY": "null"},
    )
    assert reconnect.status_code == 200
    [message] = reconnect.json()["messages"]
    assert message["type"] == "ReconnectSession"
    assert message["message"]["resetSequence"] is True
    new_affinity = message["message"]["affinityToken"]
    assert new_affinity != visitor.session["affinityToken"]
    visitor.session["affinityToken"] = new_affinity

    first = visitor.messages()[0]
    assert first["type"] == "ChasitorSessionData"
    assert [m["content"] for m in first["message"]["chatMessages"]] == ["before"]
    visitor.reset_sequence()  # resetSequence: the next POST is sequence 1 again
    assert visitor.post("Chasitor/ChatMessage", {"text": "after"}).text == "OK"
    assert visitor.chat()["visitorMessages"] == ["before", "after"]


def test_affinity_change_interrupts_a_waiting_long_poll(sandbox, sim, visitor):
    visitor.init()
    visitor.messages()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(visitor.poll)
        sim.post(f"/__sim/livechat/sessions/{visitor.session['id']}/affinity-change")
        response = waiting.result(timeout=10)
    assert response.status_code == 503


def test_reconnect_session_redelivers_what_the_client_did_not_get(sim, visitor):
    established(sim, visitor)
    chat_id = visitor.chat()["id"]
    sim.post(f"/__sim/livechat/chats/{chat_id}/messages", json={"text": "are you there?"})
    sim.post(f"/__sim/livechat/sessions/{visitor.session['id']}/affinity-change")
    reconnect = sim.get(
        f"{REST}/System/ReconnectSession",
        params={"ReconnectSession.offset": visitor.offset},
        headers=headers(visitor.session),
    )
    visitor.session["affinityToken"] = reconnect.json()["messages"][0]["message"]["affinityToken"]
    types = [m["type"] for m in visitor.messages()]
    assert types == ["ChasitorSessionData", "ChatMessage"]


@pytest.mark.parametrize(
    ("params", "key", "status", "text"),
    [
        ({}, None, 400, "Invalid value for parameter ReconnectSession.offset: None"),
        (
            {"ReconnectSession.offset": "x"},
            None,
            400,
            "Invalid value for parameter ReconnectSession.offset: x",
        ),
        ({"ReconnectSession.offset": "1"}, "unknown", 403, SESSION_GONE),
    ],
)
def test_reconnect_session_errors(sim, visitor, params, key, status, text):
    sent = headers(visitor.session)
    if key:
        sent["X-LIVEAGENT-SESSION-KEY"] = key
    response = sim.get(f"{REST}/System/ReconnectSession", params=params, headers=sent)
    assert (response.status_code, response.text) == (status, text)


# -- Chasitor/ChatMessage, ChasitorTyping, ChasitorNotTyping -----------------------------------------
def test_chat_messages_reach_the_agent_in_order(sim, visitor):
    visitor.init()
    for text in ("hello", "my order is late", "order 42"):
        assert visitor.post("Chasitor/ChatMessage", {"text": text}).text == "OK"
    assert visitor.chat()["visitorMessages"] == ["hello", "my order is late", "order 42"]


def test_replayed_chat_message_is_not_applied_twice(sim, visitor):
    visitor.init(buttonId=None, buttonOverrides=[visitor.ids["buttons"]["Support_Chat"]])
    seq = visitor.next_sequence()
    for _ in range(3):
        assert visitor.post("Chasitor/ChatMessage", {"text": "once"}, sequence=seq).text == "OK"
    assert visitor.chat()["visitorMessages"] == ["once"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "ChatMessage requires a non-null value on the text property"),
        ({"text": 5}, "text must be a string"),
        (None, "the request body is empty"),
    ],
)
def test_chat_message_body_errors(sim, visitor, body, expected):
    visitor.init()
    response = visitor.post("Chasitor/ChatMessage", body)
    assert (response.status_code, response.text) == (400, f"Request is not a valid ChatMessage - {expected}")
    assert visitor.chat()["visitorMessages"] == []


def test_chat_message_before_chasitor_init_is_refused(sim, visitor):
    response = visitor.post("Chasitor/ChatMessage", {"text": "hi"})
    assert (response.status_code, response.text) == (
        400,
        "Request is not a valid ChatMessage - no chat has been requested in this session (send ChasitorInit first)",
    )


def test_chat_message_after_org_retired_is_not_found(sim, visitor):
    visitor.init()
    sim.post(f"/__sim/livechat/orgs/{ORG_ID}", json={"legacy_chat_enabled": False})
    response = visitor.post("Chasitor/ChatMessage", {"text": "hi"})
    assert (response.status_code, response.text) == (404, RETIRED)


def test_typing_indicators_are_seen_by_the_agent(sim, visitor):
    visitor.init()
    assert visitor.post("Chasitor/ChasitorTyping").text == "OK"
    assert visitor.chat()["visitorTyping"] is True
    assert visitor.post("Chasitor/ChasitorNotTyping").text == "OK"
    chat = visitor.chat()
    assert chat["visitorTyping"] is False
    assert [e["type"] for e in chat["visitorSent"]] == ["ChasitorInit", "ChasitorTyping", "ChasitorNotTyping"]


def test_typing_header_errors(sim, visitor):
    visitor.init()
    no_sequence = sim.post(f"{REST}/Chasitor/ChasitorTyping", headers=headers(visitor.session))
    assert (no_sequence.status_code, no_sequence.text) == (
        400,
        "Missing required header: X-LIVEAGENT-SEQUENCE",
    )
    wrong_key = headers(visitor.session, sequence=9)
    wrong_key["X-LIVEAGENT-SESSION-KEY"] = "x"
    gone = sim.post(f"{REST}/Chasitor/ChasitorNotTyping", headers=wrong_key)
    assert (gone.status_code, gone.text) == (403, SESSION_GONE)


# -- Chasitor/ChatEnd -------------------------------------------------------------------------------
def test_chat_end_by_the_visitor(sim, visitor):
    established(sim, visitor)
    response = visitor.post("Chasitor/ChatEnd", {"reason": "client"})
    assert (response.status_code, response.text) == (200, "OK")
    assert visitor.messages() == [
        {"type": "ChatEnded", "message": {"reason": "client", "attachedRecords": []}}
    ]
    chat = visitor.chat()
    assert (chat["status"], chat["endedBy"]) == ("Completed", "Visitor")
    late = visitor.post("Chasitor/ChatMessage", {"text": "one more thing"})
    assert (late.status_code, late.text) == (403, SESSION_GONE)


def test_chat_end_requires_a_reason(sim, visitor):
    visitor.init()
    response = visitor.post("Chasitor/ChatEnd", {})
    assert (response.status_code, response.text) == (
        400,
        "Request is not a valid ChatEnd - ChatEnd requires a non-null value on the reason property",
    )
    assert visitor.chat()["status"] == "Waiting"


# -- Visitor/Availability and Visitor/Settings -----------------------------------------------------
def availability(sim, ids, id_param, **extra):
    params = {"org_id": ids["org"], "deployment_id": ids["deployment"], "Availability.ids": id_param, **extra}
    return sim.get(f"{REST}/Visitor/Availability", params=params, headers=headers())


def test_availability_of_buttons_agents_and_agent_buttons(sim, ids):
    ada, grace = ids["agents"]["ada"], ids["agents"]["grace"][:15]
    support, grace_direct = ids["buttons"]["Support_Chat"], ids["buttons"]["Grace_Direct"]
    asked = [support, grace_direct, ada, grace, f"{grace}_{support}", f"{grace}_{grace_direct}"]
    response = availability(sim, ids, "[" + ",".join(asked) + "]")
    assert response.status_code == 200
    [message] = response.json()["messages"]
    assert message["type"] == "Availability"
    assert message["message"]["results"] == [
        {"id": support, "isAvailable": True},
        {"id": grace_direct},
        {"id": ada, "isAvailable": True},
        {"id": grace},
        {"id": f"{grace}_{support}", "isAvailable": True},
        {"id": f"{grace}_{grace_direct}"},
    ]


def test_availability_accepts_comma_lists_and_estimates_the_wait(sim, ids):
    support = ids["buttons"]["Support_Chat"]
    response = availability(
        sim, ids, f"{support},{ids['buttons']['Ada_Direct']}", **{"Availability.needEstimatedWaitTime": "1"}
    )
    results = response.json()["messages"][0]["message"]["results"]
    assert [r["estimatedWaitTime"] for r in results] == [30, 30]


def test_availability_follows_agent_presence(sim, ids):
    for user in ("ada", "linus"):
        sim.post(f"/__sim/livechat/orgs/{ORG_ID}/agents/{user}@chatty.test/presence", json={"online": False})
    results = availability(sim, ids, ids["buttons"]["Support_Chat"]).json()["messages"][0]["message"][
        "results"
    ]
    assert results == [{"id": ids["buttons"]["Support_Chat"]}]


@pytest.mark.parametrize(
    ("params", "status", "text"),
    [
        ({"org_id": None}, 400, "Request is not a valid Availability - the org_id parameter is required"),
        (
            {"deployment_id": None},
            400,
            "Request is not a valid Availability - the deployment_id parameter is required",
        ),
        (
            {"Availability.ids": None},
            400,
            "Request is not a valid Availability - the Availability.ids parameter is required",
        ),
        ({"org_id": "00D000000000001"}, 404, RETIRED),
    ],
)
def test_availability_errors(sim, ids, params, status, text):
    query = {
        "org_id": ids["org"],
        "deployment_id": ids["deployment"],
        "Availability.ids": ids["buttons"]["Support_Chat"],
    }
    query.update(params)
    response = sim.get(
        f"{REST}/Visitor/Availability", params={k: v for k, v in query.items() if v}, headers=headers()
    )
    assert (response.status_code, response.text) == (status, text)


def test_availability_needs_the_api_version(sim, ids):
    sent = headers()
    del sent["X-LIVEAGENT-API-VERSION"]
    response = sim.get(
        f"{REST}/Visitor/Availability",
        params={"org_id": ids["org"], "deployment_id": ids["deployment"], "Availability.ids": "x"},
        headers=sent,
    )
    assert response.status_code == 400


def test_availability_with_unknown_deployment_reports_nothing_available(sim, ids):
    params = {
        "org_id": ids["org"],
        "deployment_id": "572000000000009",
        "Availability.ids": ids["buttons"]["Support_Chat"],
    }
    response = sim.get(f"{REST}/Visitor/Availability", params=params, headers=headers())
    assert response.json()["messages"][0]["message"]["results"] == [{"id": ids["buttons"]["Support_Chat"]}]


def test_settings_lists_buttons_with_availability(sim, ids):
    params = {
        "org_id": ids["org"],
        "deployment_id": ids["deployment"],
        "Settings.buttonIds": f"[{ids['buttons']['Support_Chat']},{ids['buttons']['Grace_Direct']}]",
    }
    response = sim.get(f"{REST}/Visitor/Settings", params=params, headers=headers())
    assert response.status_code == 200
    [message] = response.json()["messages"]
    assert message["type"] == "Settings"
    assert message["message"]["pingRate"] == 50000.0
    assert [(b["id"], b["isAvailable"]) for b in message["message"]["buttons"]] == [
        (ids["buttons"]["Support_Chat"], True),
        (ids["buttons"]["Grace_Direct"], False),
    ]


def test_settings_errors(sim, ids):
    missing = sim.get(f"{REST}/Visitor/Settings", params={"org_id": ids["org"]}, headers=headers())
    assert (missing.status_code, missing.text) == (
        400,
        "Request is not a valid Settings - the deployment_id parameter is required",
    )
    sim.post(f"/__sim/livechat/orgs/{ORG_ID}", json={"legacy_chat_enabled": False})
    retired = sim.get(
        f"{REST}/Visitor/Settings",
        params={"org_id": ids["org"], "deployment_id": ids["deployment"]},
        headers=headers(),
    )
    assert (retired.status_code, retired.text) == (404, RETIRED)
