"""Core REST API on the instance host: auth, limits, versions, sObject CRUD, composite."""

from __future__ import annotations

import pytest

from . import core_support
from .core_support import (
    AGENT,
    V,
    assert_conforms,
    auth,
    mint_token,
)

api = core_support.api  # fixture
core_org = core_support.core_org  # fixture

SESSION_INVALID = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
NOT_FOUND = [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
HALTED = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same transaction failed.",
    }
]


def org_of(sandbox, org_id):
    return sandbox.world.orgs.get(org_id)


# --- auth, limits, versions ----------------------------------------------------------------------


def test_versions_need_no_auth(sim):
    response = sim.get("/sim/core/services/data/")
    assert response.status_code == 200
    assert_conforms(response, "list-versions")
    versions = response.json()
    assert versions[-1] == {"label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0"}
    by_version = {v["version"]: v["label"] for v in versions}
    assert by_version["62.0"] == "Winter '25" and by_version["61.0"] == "Summer '24"
    assert "sforce-limit-info" not in response.headers


@pytest.mark.parametrize("header", [None, "Bearer nope", "Bearer", "Basic abc"])
def test_missing_or_unknown_token_is_401(sim, core_org, header):
    headers = {"Authorization": header} if header else {}
    response = sim.get(f"{V}/limits", headers=headers)
    assert response.status_code == 401
    assert response.json() == SESSION_INVALID
    assert_conforms(response, "limits")


def test_oauth_scheme_is_accepted_too(sim, core_org):
    assert sim.get(f"{V}/limits", headers={"Authorization": f"OAuth {mint_token(sim)}"}).status_code == 200


def test_every_answer_carries_the_limit_header_and_counts(api, core_org):
    first = api.get(f"{V}/limits")
    assert first.headers["sforce-limit-info"] == "api-usage=1/15000"
    missing = api.get(f"{V}/sobjects/Case/500000000000000")
    assert missing.status_code == 404
    assert missing.headers["sforce-limit-info"] == "api-usage=2/15000"
    limits = api.get(f"{V}/limits").json()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 3}


def test_request_limit_exceeded_is_403_until_raised(api, core_org):
    settings = api.post(
        f"/__sim/orgs/{core_org}/settings", json={"api_request_limit": 2, "api_requests_used": 1}
    )
    assert settings.json()["api_request_limit"] == 2
    assert api.get(f"{V}/limits").status_code == 200
    refused = api.get(f"{V}/limits")
    assert refused.status_code == 403
    assert refused.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert refused.headers["sforce-limit-info"] == "api-usage=2/2"
    assert_conforms(refused, "limits")
    api.post(f"/__sim/orgs/{core_org}/settings", json={"api_request_limit": 100})
    assert api.get(f"{V}/limits").status_code == 200


def test_unknown_version_and_resource_are_not_found(api):
    for path in ("/sim/core/services/data/v20.0/limits", "/sim/core/services/data/v99.0/limits", f"{V}/nope"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json() == NOT_FOUND


def test_version_resources(api):
    response = api.get(f"{V}/")
    assert response.status_code == 200
    assert response.json()["query"] == "/services/data/v62.0/query"
    assert response.json()["tooling"] == "/services/data/v62.0/tooling"


def test_limits_conform(api):
    response = api.get(f"{V}/limits")
    assert_conforms(response, "limits")
    assert "HourlyPublishedPlatformEvents" in response.json()


# --- describe --------------------------------------------------------------------------------------


def test_describe_global_lists_the_simulated_objects(api):
    names = {o["name"] for o in api.get(f"{V}/sobjects").json()["sobjects"]}
    assert {"Case", "Contact", "Account", "MessagingSession", "MessagingEndUser", "User", "Group"} <= names
    assert "CustomObject" not in names


def test_describe_object_has_fields_and_relationships(api):
    described = api.get(f"{V}/sobjects/Case/describe").json()
    fields = {f["name"]: f for f in described["fields"]}
    assert described["keyPrefix"] == "500"
    assert fields["OwnerId"]["referenceTo"] == ["User", "Group"]
    assert fields["OwnerId"]["relationshipName"] == "Owner"
    assert fields["CaseNumber"]["createable"] is False
    basic = api.get(f"{V}/sobjects/MessagingSession").json()
    assert basic["objectDescribe"]["name"] == "MessagingSession" and basic["recentItems"] == []


# --- sObject CRUD ------------------------------------------------------------------------------------


def create_case(api, **fields):
    return api.post(
        f"{V}/sobjects/Case", json={"Subject": "WhatsApp +447700900123", "Origin": "WhatsApp", **fields}
    )


def test_create_read_update_delete_case(api, sandbox, core_org):
    created = create_case(api, Description="Hello")
    assert created.status_code == 201
    assert_conforms(created, "sobject-create")
    case_id = created.json()["id"]
    assert created.json() == {"id": case_id, "success": True, "errors": []}
    assert case_id.startswith("500") and len(case_id) == 18
    assert created.headers["location"] == f"/services/data/v62.0/sobjects/Case/{case_id}"

    record = api.get(f"{V}/sobjects/Case/{case_id[:15]}")
    assert record.status_code == 200
    assert_conforms(record, "sobject-get")
    body = record.json()
    assert body["attributes"] == {"type": "Case", "url": f"/services/data/v62.0/sobjects/Case/{case_id}"}
    assert body["CaseNumber"] == "00001001" and body["Status"] == "New" and body["IsClosed"] is False
    assert body["Subject"] == "WhatsApp +447700900123" and body["CreatedDate"].endswith("+0000")

    patched = api.patch(f"{V}/sobjects/Case/{case_id}", json={"Status": "Closed"})
    assert patched.status_code == 204 and patched.content == b""
    assert_conforms(patched, "sobject-update")
    closed = api.get(f"{V}/sobjects/Case/{case_id}", params={"fields": "Status,IsClosed"}).json()
    assert closed == {
        "attributes": body["attributes"],
        "Id": case_id,
        "Status": "Closed",
        "IsClosed": True,
    }
    deleted = api.delete(f"{V}/sobjects/Case/{case_id}")
    assert deleted.status_code == 204
    assert_conforms(deleted, "sobject-delete")
    assert api.get(f"{V}/sobjects/Case/{case_id}").json() == NOT_FOUND


def test_contact_and_account_and_end_user(api, sandbox, core_org):
    account = api.post(f"{V}/sobjects/Account", json={"Name": "Acme Ltd"}).json()["id"]
    contact = api.post(
        f"{V}/sobjects/Contact", json={"FirstName": "Jo", "LastName": "Doe", "AccountId": account}
    )
    assert contact.status_code == 201
    assert api.get(f"{V}/sobjects/Contact/{contact.json()['id']}").json()["Name"] == "Jo Doe"
    channel = sandbox.call(lambda: org_of(sandbox, core_org).records.first("MessagingChannel"))
    end_user = api.post(
        f"{V}/sobjects/MessagingEndUser",
        json={"Name": "+447700900123", "MessagingChannelId": channel["Id"], "MessageType": "Custom",
              "MessagingPlatformKey": "+447700900123", "ContactId": contact.json()["id"]},
    )  # fmt: skip
    assert end_user.status_code == 201


def test_link_case_to_messaging_session(api, sandbox, core_org):
    def make_session():
        org = org_of(sandbox, core_org)
        channel = org.records.first("MessagingChannel")
        user = org.records.insert("MessagingEndUser", {"Name": "x", "MessagingChannelId": channel["Id"]})
        return org.records.insert(
            "MessagingSession",
            {"MessagingChannelId": channel["Id"], "MessagingEndUserId": user["Id"], "Status": "Waiting"},
        )["Id"]

    session_id = sandbox.call(make_session)
    case_id = create_case(api).json()["id"]
    assert (
        api.patch(f"{V}/sobjects/MessagingSession/{session_id}", json={"CaseId": case_id}).status_code == 204
    )
    stored = sandbox.call(lambda: org_of(sandbox, core_org).records.get("MessagingSession", session_id))
    assert stored["CaseId"] == case_id


def test_case_subject_required_when_the_org_says_so(api, core_org):
    assert api.post(f"{V}/sobjects/Case", json={"Origin": "WhatsApp"}).status_code == 201
    api.post(f"/__sim/orgs/{core_org}/settings", json={"case_subject_required": True})
    response = api.post(f"{V}/sobjects/Case", json={"Origin": "WhatsApp"})
    assert response.status_code == 400
    assert response.json() == [
        {
            "message": "Required fields are missing: [Subject]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["Subject"],
        }
    ]
    assert_conforms(response, "sobject-create")


def test_contact_needs_last_name(api):
    response = api.post(f"{V}/sobjects/Contact", json={"FirstName": "Jo"})
    assert response.json() == [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]


def test_unknown_field_is_invalid_field(api):
    response = create_case(api, Colour__c="red")
    assert response.status_code == 400
    assert response.json() == [
        {"message": "No such column 'Colour__c' on sobject of type Case", "errorCode": "INVALID_FIELD"}
    ]


def test_read_only_field_is_refused(api):
    response = create_case(api, CaseNumber="1", IsClosed=True)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert response.json()[0]["fields"] == ["CaseNumber", "IsClosed"]


def test_bad_reference_values(api, sandbox, core_org):
    malformed = create_case(api, ContactId="abc")
    assert malformed.status_code == 400
    assert malformed.json() == [
        {
            "message": "Contact ID: id value of incorrect type: abc",
            "errorCode": "MALFORMED_ID",
            "fields": ["ContactId"],
        }
    ]
    wrong_type = create_case(api, ContactId="001000000000000")
    assert wrong_type.json()[0]["errorCode"] == "MALFORMED_ID"
    missing = create_case(api, ContactId="003000000000000")
    assert missing.json()[0]["errorCode"] == "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"
    queue = sandbox.call(lambda: org_of(sandbox, core_org).records.first("Group", DeveloperName="Support"))
    assert create_case(api, OwnerId=queue["Id"]).status_code == 201  # Case.OwnerId may be a queue


def test_wrong_value_types_are_json_parser_errors(api):
    response = api.post(f"{V}/sobjects/Case", json={"Subject": {"nested": True}})
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    malformed = api.post(
        f"{V}/sobjects/Case", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    empty = api.post(f"{V}/sobjects/Case", content=b"")
    assert empty.json() == [
        {
            "message": "No content to map due to end-of-input at [line:1, column:0]",
            "errorCode": "JSON_PARSER_ERROR",
        }
    ]


@pytest.mark.parametrize(
    ("record_id", "status", "body"),
    [
        ("500000000000000", 404, NOT_FOUND),
        ("nope", 404, [{"message": "Provided external ID field does not exist or is not accessible: nope",
                        "errorCode": "NOT_FOUND"}]),
        ("003000000000000", 400, [{"message": "Case ID: id value of incorrect type: 003000000000000",
                                   "errorCode": "MALFORMED_ID", "fields": ["Id"]}]),
    ],
)  # fmt: skip
def test_bad_record_ids(api, record_id, status, body):
    for method in ("GET", "PATCH", "DELETE"):
        response = api.request(
            method, f"{V}/sobjects/Case/{record_id}", json={} if method == "PATCH" else None
        )
        assert response.status_code == status
        assert response.json() == body
        assert_conforms(response, "sobject-get")


def test_unknown_object_and_unsupported_operations(api):
    assert api.post(f"{V}/sobjects/Widget__c", json={}).json() == NOT_FOUND
    refused = api.post(f"{V}/sobjects/User", json={"Username": "x"})
    assert refused.status_code == 400
    assert refused.json() == [
        {"message": "entity type cannot be inserted: User", "errorCode": "INVALID_TYPE_FOR_OPERATION"}
    ]
    put = api.put(f"{V}/sobjects/Case/500000000000000", json={})
    assert put.status_code == 405
    assert put.json() == [
        {
            "message": "HTTP Method 'PUT' not allowed. Allowed are HEAD,GET,PATCH,DELETE",
            "errorCode": "METHOD_NOT_ALLOWED",
        }
    ]


# --- composite -----------------------------------------------------------------------------------------


def composite_body(*subrequests, all_or_none=True):
    return {"allOrNone": all_or_none, "compositeRequest": list(subrequests)}


def sub(method, url, ref, body=None):
    item = {"method": method, "url": f"/services/data/v62.0{url}", "referenceId": ref}
    if body is not None:
        item["body"] = body
    return item


def test_composite_runs_in_order_with_references(api, sandbox, core_org):
    response = api.post(
        f"{V}/composite",
        json=composite_body(
            sub("POST", "/sobjects/Contact", "newContact", {"LastName": "Doe"}),
            sub("POST", "/sobjects/Case", "newCase", {"Subject": "Hi", "ContactId": "@{newContact.id}"}),
            sub("GET", "/query?q=SELECT+Id,ContactId+FROM+Case+WHERE+Id='@{newCase.id}'", "check"),
            sub("PATCH", "/sobjects/Case/@{check.records[0].Id}", "close", {"Status": "Closed"}),
        ),
    )
    assert response.status_code == 200
    assert_conforms(response, "composite")
    results = response.json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in results] == [201, 201, 200, 204]
    assert [r["referenceId"] for r in results] == ["newContact", "newCase", "check", "close"]
    contact_id = results[0]["body"]["id"]
    assert results[1]["httpHeaders"]["Location"].endswith(results[1]["body"]["id"])
    assert results[2]["body"]["records"][0]["ContactId"] == contact_id
    assert results[3]["body"] is None
    assert api.get(f"{V}/limits").headers["sforce-limit-info"] == "api-usage=2/15000"  # composite counts once


def test_composite_all_or_none_rolls_back(api, sandbox, core_org):
    response = api.post(
        f"{V}/composite",
        json=composite_body(
            sub("POST", "/sobjects/Contact", "c1", {"LastName": "Doe"}),
            sub("POST", "/sobjects/Case", "bad", {"Nope__c": 1}),
            sub("POST", "/sobjects/Contact", "c2", {"LastName": "Roe"}),
        ),
    )
    assert response.status_code == 200
    results = response.json()["compositeResponse"]
    assert [r["referenceId"] for r in results] == ["c1", "bad", "c2"]
    assert results[0] == {"body": HALTED, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": "c1"}
    assert results[1]["body"][0]["errorCode"] == "INVALID_FIELD"
    assert results[2]["body"] == HALTED
    count = api.get(f"{V}/query", params={"q": "SELECT COUNT() FROM Contact"}).json()["totalSize"]
    assert count == 0


def test_composite_without_all_or_none_keeps_successes(api):
    response = api.post(
        f"{V}/composite",
        json=composite_body(
            sub("POST", "/sobjects/Contact", "c1", {"LastName": "Doe"}),
            sub("POST", "/sobjects/Case", "bad", {"Nope__c": 1}),
            sub("PATCH", "/sobjects/Case/@{bad.id}", "after", {"Status": "Closed"}),
            all_or_none=False,
        ),
    )
    results = response.json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in results] == [201, 400, 400]
    assert results[2]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert "bad.id" in results[2]["body"][0]["message"]
    assert api.get(f"{V}/query", params={"q": "SELECT COUNT() FROM Contact"}).json()["totalSize"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"compositeRequest": []},
        {"compositeRequest": [{"method": "GET", "url": "/services/data/v62.0/limits"}]},
        {"compositeRequest": [sub("GET", "/limits", "a"), sub("GET", "/limits", "a")]},
        {"compositeRequest": [sub("GET", "/limits", f"r{i}") for i in range(26)]},
    ],
)
def test_composite_request_shape_errors(api, body):
    response = api.post(f"{V}/composite", json=body)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_INPUT"
    assert_conforms(response, "composite")


def test_composite_subrequest_with_bad_url_fails_alone(api):
    response = api.post(
        f"{V}/composite",
        json={
            "compositeRequest": [
                {"method": "GET", "url": "/services/data/v10.0/limits", "referenceId": "old"}
            ]
        },
    )
    assert response.json()["compositeResponse"][0]["httpStatusCode"] == 404


def test_agent_token_sees_the_same_org(sim, core_org):
    token = mint_token(sim, sub=AGENT)
    created = sim.post(f"{V}/sobjects/Case", json={"Subject": "x"}, headers=auth(token)).json()["id"]
    owner = sim.get(
        f"{V}/query", params={"q": f"SELECT Owner.Name FROM Case WHERE Id = '{created}'"}, headers=auth(token)
    )
    assert owner.json()["records"][0]["Owner"]["Name"] == "Ada Lovelace"
