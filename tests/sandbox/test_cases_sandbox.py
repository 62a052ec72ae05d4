"""The sandbox's Case records and Change Data Capture, as Salesforce documents them (sandbox/README.md, Cases).

REST: FeedItem, CaseComment and ContentVersion on a Case (required fields, length limits, a file linked to
the Case); Pub/Sub: /data/CaseChangeEvent with the ChangeEventHeader, unchanged fields null and the
changedFields bitmap, only for an org that selected Case.
"""

from __future__ import annotations

import base64

import grpc
import httpx
import pytest
from playwright.sync_api import expect

from pubsub_api import pb2, pb2_grpc
from tests.sandbox.pubsub_support import Codec, SubscribeStream, make_org

V = "/sim/core/services/data/v62.0"
TOPIC = "/data/CaseChangeEvent"


@pytest.fixture
def session(sandbox):
    session = make_org(sandbox, "00D8d000000CaSE")
    org = sandbox.world.orgs.get(session.org_id)
    sandbox.call(setattr, org, "change_events", {"Case"})
    return session


@pytest.fixture
def rest(sandbox, session):
    headers = {"Authorization": f"Bearer {session.access_token}"}
    with httpx.Client(base_url=sandbox.base_url + V, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def stub(sandbox):
    with grpc.insecure_channel(sandbox.world.config.grpc_target) as channel:
        yield pb2_grpc.PubSubStub(channel)


def _case(rest) -> str:
    answer = rest.post("/sobjects/Case", json={"Subject": "WhatsApp: my order", "Origin": "WhatsApp"})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_the_transcript_records_of_a_case_and_their_refusals(rest):
    case_id = _case(rest)
    post = rest.post("/sobjects/FeedItem", json={"ParentId": case_id, "Body": "Customer: hello"})
    assert post.status_code == 201 and post.json()["id"].startswith("0D5")
    comment = rest.post("/sobjects/CaseComment", json={"ParentId": case_id, "CommentBody": "Agent: hi"})
    assert comment.status_code == 201 and comment.json()["id"].startswith("00a")

    empty = rest.post("/sobjects/FeedItem", json={"ParentId": case_id})
    assert empty.status_code == 400
    assert empty.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING" and empty.json()[0]["fields"] == ["Body"]
    long = rest.post("/sobjects/CaseComment", json={"ParentId": case_id, "CommentBody": "x" * 4001})
    assert long.status_code == 400 and long.json()[0]["errorCode"] == "STRING_TOO_LONG"
    orphan = rest.post("/sobjects/CaseComment", json={"CommentBody": "no parent"})
    assert orphan.status_code == 400 and orphan.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    wrong = rest.post("/sobjects/FeedItem", json={"ParentId": "500" + "x" * 12, "Body": "?"})  # no such Case
    assert wrong.status_code == 400
    assert wrong.json()[0]["errorCode"] == "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"

    found = rest.get("/query", params={"q": f"SELECT Id, Body FROM FeedItem WHERE ParentId = '{case_id}'"})
    assert [r["Body"] for r in found.json()["records"]] == ["Customer: hello"]


def test_a_file_published_to_the_case_is_linked_to_it(sandbox, session, rest):
    case_id = _case(rest)
    data = b"%PDF-1.4 invoice"
    answer = rest.post(
        "/sobjects/ContentVersion",
        json={
            "PathOnClient": "invoice.pdf",
            "VersionData": base64.b64encode(data).decode(),
            "FirstPublishLocationId": case_id,
        },
    )
    assert answer.status_code == 201, answer.text
    version = rest.get(f"/sobjects/ContentVersion/{answer.json()['id']}").json()
    assert version["ContentSize"] == len(data) and version["FileExtension"] == "pdf"
    links = rest.get(
        "/query",
        params={"q": f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{case_id}'"},
    ).json()["records"]
    assert [link["ContentDocumentId"] for link in links] == [version["ContentDocumentId"]]
    bad = rest.post("/sobjects/ContentVersion", json={"PathOnClient": "x.txt", "VersionData": "not base64!"})
    assert bad.status_code == 400


def test_case_changes_arrive_on_the_change_event_channel(sandbox, session, rest, stub):
    case_id = _case(rest)
    assert rest.patch(f"/sobjects/Case/{case_id}", json={"Status": "Closed"}).status_code == 204

    stream = SubscribeStream(
        stub, session, pb2.FetchRequest(topic_name=TOPIC, replay_preset=pb2.EARLIEST, num_requested=10)
    )
    try:
        events = stream.events(2)
    finally:
        stream.close()
    schema = stub.GetSchema(
        pb2.SchemaRequest(schema_id=events[0].event.schema_id), metadata=session.metadata()
    )
    codec = Codec(schema.schema_json)
    created, closed = (codec.decode(e.event.payload) for e in events)
    assert created["ChangeEventHeader"]["changeType"] == "CREATE"
    assert created["ChangeEventHeader"]["changedFields"] == []  # "empty for other operations"
    assert created["Subject"] == "WhatsApp: my order"
    header = closed["ChangeEventHeader"]
    assert header["entityName"] == "Case" and header["recordIds"] == [case_id]
    assert header["changeType"] == "UPDATE" and header["transactionKey"]
    assert closed["Status"] == "Closed" and closed["IsClosed"] is True
    assert closed["Subject"] is None  # unchanged fields are null over the Pub/Sub API
    names = [f["name"] for f in codec.schema["fields"]]
    bits = int(header["changedFields"][0], 16)
    changed = {name for index, name in enumerate(names) if bits >> index & 1}
    assert {"Status", "IsClosed", "ClosedDate", "LastModifiedDate"} <= changed and "Subject" not in changed


def test_an_org_that_did_not_select_case_has_no_case_channel(sandbox, session, stub):
    org = sandbox.world.orgs.get(session.org_id)
    sandbox.call(setattr, org, "change_events", set())
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=session.metadata())
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


def _agent_org(sandbox, sim) -> dict:
    """An org with a Support queue, agent Ada, a Canvas app and Case selected for Change Data Capture."""
    org_id = "00D8d000000CaSP"
    spec = {
        "org_id": org_id,
        "name": "Cases org",
        "change_data_capture": ["Case"],
        "users": [{"username": "ada@cases.test", "name": "Ada Agent", "agent": True, "online": True}],
        "queues": [{"name": "Support", "developer_name": "Support"}],
        "connected_apps": [
            {
                "consumer_key": "key-cases",
                "consumer_secret": "canvas-secret",
                "canvas_url": "http://127.0.0.1:8000/console/canvas/",
            }
        ],
    }
    assert sim.post("/__sim/orgs", json=spec).status_code == 201
    org = sandbox.world.orgs.get(org_id)
    queue = sandbox.call(lambda: org.records.first("Group", Name="Support"))
    ada = sandbox.call(lambda: org.records.first("User", Username="ada@cases.test"))
    case = sandbox.call(
        org.records.insert,
        "Case",
        {
            "Subject": "WhatsApp: <b>where</b> is it?",
            "Status": "New",
            "IsClosed": False,
            "OwnerId": queue["Id"],
            "CaseNumber": "00001234",
        },
    )
    sandbox.call(
        org.records.insert, "FeedItem", {"ParentId": case["Id"], "Body": "Customer: <script>x</script>"}
    )
    return {"org": org, "org_id": org_id, "ada": ada["Id"], "case": case["Id"]}


@pytest.mark.browser
def test_an_agent_accepts_a_queued_case_works_it_and_closes_it(sandbox, sim, page):
    setup = _agent_org(sandbox, sim)
    page.goto(f"{sandbox.base_url}/__sim/console/cases?org={setup['org_id']}&agent={setup['ada']}")
    queued = page.get_by_test_id("queued-cases")
    expect(queued).to_contain_text("WhatsApp: <b>where</b> is it?")  # shown as text, never markup
    queued.get_by_test_id("accept-case").click()

    expect(page.get_by_test_id("case-title")).to_contain_text("Case 00001234")
    expect(page.get_by_test_id("case-owner")).to_have_text("Ada Agent")
    expect(page.get_by_test_id("case-status")).to_have_text("Working")
    expect(page.get_by_test_id("case-feed")).to_contain_text("Customer: <script>x</script>")
    frame = page.get_by_test_id("case-panel")
    src = frame.get_attribute("src") or ""
    assert "/__sim/canvas/launch?" in src and f"record={setup['case']}" in src
    assert "url=http%3A%2F%2F127.0.0.1%3A8000%2Fconsole%2Fcanvas%2Fcase%2F" in src

    page.locator("#case-status-select").select_option("Escalated")
    page.get_by_test_id("save-status").click()
    expect(page.get_by_test_id("case-status")).to_have_text("Escalated")
    page.get_by_test_id("close-case").click()
    expect(page.get_by_test_id("case-status")).to_have_text("Closed")
    expect(page.get_by_test_id("close-case")).to_have_count(0)

    events = sandbox.call(sandbox.world.pubsub.events, setup["org_id"], "CaseChangeEvent")
    updates = [e for e in events if e["ChangeEventHeader"]["changeType"] == "UPDATE"]
    assert [(e["OwnerId"], e["Status"], e["IsClosed"]) for e in updates] == [
        (setup["ada"], "Working", None),  # unchanged fields are null (IsClosed stayed false)
        (None, "Escalated", None),
        (None, "Closed", True),
    ]
    assert all(e["ChangeEventHeader"]["commitUser"] == setup["ada"] for e in updates)
