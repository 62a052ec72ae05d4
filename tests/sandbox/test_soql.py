"""The SOQL subset behind ``GET /query``: selection, filters, relationships, ordering, errors."""

from __future__ import annotations

import pytest

from . import core_support
from .core_support import (
    V,
    assert_conforms,
)

api = core_support.api  # fixture
core_org = core_support.core_org  # fixture

WSDL = "Please reference your WSDL or the describe call for the appropriate names."


def query(api, soql, **headers):
    return api.get(f"{V}/query", params={"q": soql}, headers=headers)


def records(api, soql):
    response = query(api, soql)
    assert response.status_code == 200, response.text
    assert_conforms(response, "query")
    return response.json()["records"]


def test_record_shape_and_field_casing(api, core_org):
    response = query(api, "select id, username, isactive from user where username = 'ADA@acme.test'")
    assert response.status_code == 200
    body = response.json()
    assert body["totalSize"] == 1 and body["done"] is True
    record = body["records"][0]
    assert list(record) == ["attributes", "Id", "Username", "IsActive"]
    assert record["attributes"] == {
        "type": "User",
        "url": f"/services/data/v62.0/sobjects/User/{record['Id']}",
    }
    assert record["Username"] == "ada@acme.test" and record["IsActive"] is True


def test_queues_are_groups_of_type_queue(api):
    names = [r["Name"] for r in records(api, "SELECT Id, Name FROM Group WHERE Type = 'Queue' ORDER BY Name")]
    assert names == ["Sales", "Support"]


def test_channel_definition_and_messaging_channel_lookups(api):
    ccd = records(
        api,
        "SELECT Id, DeveloperName, CustomPlatformEvent, CustomEventPayloadField, RoutingOwner "
        "FROM ConversationChannelDefinition WHERE DeveloperName = 'Switchboard_Messaging'",
    )
    assert ccd[0]["CustomPlatformEvent"] == "Switchboard_Interaction__e"
    assert ccd[0]["CustomEventPayloadField"] == "Switchboard_Interaction__e.Payload__c"
    channels = records(
        api,
        "SELECT DeveloperName, ChannelAddressIdentifier, ChannelDefinition.DeveloperName, TargetQueue.Name "
        "FROM MessagingChannel WHERE IsActive = true AND ChannelDefinitionId = '" + ccd[0]["Id"][:15] + "'",
    )
    assert len(channels) == 1
    channel = channels[0]
    assert channel["DeveloperName"] == "Acme_WhatsApp"
    assert channel["ChannelDefinition"]["DeveloperName"] == "Switchboard_Messaging"
    assert channel["ChannelDefinition"]["attributes"]["type"] == "ConversationChannelDefinition"
    assert channel["TargetQueue"] == {
        "attributes": channel["TargetQueue"]["attributes"],
        "Name": "Support",
    }


def test_polymorphic_owner_is_a_name_record(api):
    queue = records(api, "SELECT Id FROM Group WHERE DeveloperName = 'Support'")[0]["Id"]
    api.post(f"{V}/sobjects/Case", json={"Subject": "queued", "OwnerId": queue})
    api.post(f"{V}/sobjects/Case", json={"Subject": "mine"})
    rows = records(api, "SELECT Subject, Owner.Name, Owner.Type FROM Case ORDER BY Subject")
    assert [(r["Subject"], r["Owner"]["Name"], r["Owner"]["Type"]) for r in rows] == [
        ("mine", "Switchboard Integration", "User"),
        ("queued", "Support", "Queue"),
    ]
    assert rows[1]["Owner"]["attributes"]["type"] == "Name"
    assert rows[1]["Owner"]["attributes"]["url"].endswith(f"/sobjects/Group/{queue}")


def test_null_relationship_is_null(api):
    api.post(f"{V}/sobjects/Case", json={"Subject": "no contact"})
    assert records(api, "SELECT Contact.Name FROM Case")[0]["Contact"] is None


def test_messaging_session_and_end_user(api, sandbox, core_org):
    def seed():
        org = sandbox.world.orgs.get(core_org)
        channel = org.records.first("MessagingChannel", DeveloperName="Acme_WhatsApp")
        user = org.records.insert(
            "MessagingEndUser",
            {
                "Name": "+447700900123",
                "MessagingChannelId": channel["Id"],
                "MessagingPlatformKey": "+447700900123",
            },
        )
        for status in ("Ended", "Waiting"):
            org.records.insert(
                "MessagingSession",
                {"MessagingChannelId": channel["Id"], "MessagingEndUserId": user["Id"], "Status": status},
            )

    sandbox.call(seed)
    rows = records(
        api,
        "SELECT Id, Status, MessagingEndUser.Name, MessagingEndUser.MessagingPlatformKey, MessagingChannel.DeveloperName "
        "FROM MessagingSession WHERE Status IN ('Waiting', 'Active') AND MessagingEndUser.Name LIKE '+44%'",
    )
    assert len(rows) == 1
    assert rows[0]["MessagingEndUser"]["Name"] == "+447700900123"
    assert rows[0]["MessagingChannel"]["DeveloperName"] == "Acme_WhatsApp"
    assert (
        records(api, "SELECT Id FROM MessagingSession WHERE Status NOT IN ('Ended')")[0]["Id"]
        == rows[0]["Id"]
    )


def test_filters_and_or_not_null_like(api):
    for subject, status in (("Alpha", "New"), ("beta", "Working"), ("Gamma", "Closed"), (None, "New")):
        body = {"Status": status, **({"Subject": subject} if subject else {})}
        assert api.post(f"{V}/sobjects/Case", json=body).status_code == 201

    def subjects(where):
        return sorted(str(r["Subject"]) for r in records(api, f"SELECT Subject FROM Case WHERE {where}"))

    assert subjects("Subject = 'ALPHA'") == ["Alpha"]  # case-insensitive, as in SOQL
    assert subjects("Subject != null AND (Status = 'New' OR Status = 'Working')") == ["Alpha", "beta"]
    assert subjects("Subject = null") == ["None"]
    assert subjects("NOT Status = 'New'") == ["Gamma", "beta"]
    assert subjects("Subject LIKE '%a'") == ["Alpha", "Gamma", "beta"]
    assert subjects("Subject NOT LIKE 'a%'") == ["Gamma", "None", "beta"]
    assert subjects("IsClosed = true") == ["Gamma"]
    assert subjects("CreatedDate > 2020-01-01T00:00:00Z AND Subject != null") == ["Alpha", "Gamma", "beta"]
    assert subjects("CreatedDate < 2020-01-01T00:00:00Z") == []


def test_order_limit_offset_and_count(api):
    for n in range(5):
        api.post(f"{V}/sobjects/Case", json={"Subject": f"case {n}"})
    rows = records(api, "SELECT Subject FROM Case ORDER BY Subject DESC LIMIT 2 OFFSET 1")
    assert [r["Subject"] for r in rows] == ["case 3", "case 2"]
    count = query(api, "SELECT COUNT() FROM Case WHERE Subject LIKE 'case%'").json()
    assert count == {"totalSize": 5, "done": True, "records": []}
    aggregate = records(api, "SELECT COUNT(Id) FROM Case")
    assert aggregate == [{"attributes": {"type": "AggregateResult"}, "expr0": 5}]


def test_batches_and_next_records_url(api, sandbox, core_org):
    def seed():
        for n in range(205):
            sandbox.world.orgs.get(core_org).records.insert("Case", {"Subject": f"bulk {n:03d}"})

    sandbox.call(seed)
    first = query(
        api, "SELECT Subject FROM Case ORDER BY Subject", **{"Sforce-Query-Options": "batchSize=200"}
    )
    body = first.json()
    assert body["totalSize"] == 205 and body["done"] is False and len(body["records"]) == 200
    next_url = body["nextRecordsUrl"]
    assert next_url.startswith("/services/data/v62.0/query/") and next_url.endswith("-200")
    second = api.get(f"/sim/core{next_url}")
    assert second.status_code == 200
    assert_conforms(second, "query-more")
    assert second.json()["done"] is True and [r["Subject"] for r in second.json()["records"]] == [
        "bulk 200", "bulk 201", "bulk 202", "bulk 203", "bulk 204",
    ]  # fmt: skip
    stale = api.get(f"{V}/query/01gNOPE-200")
    assert stale.status_code == 404
    assert stale.json() == [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]


def test_flow_definition_view(api):
    rows = records(
        api, "SELECT ApiName, Label, IsActive FROM FlowDefinitionView WHERE ApiName = 'Route_Messaging'"
    )
    assert rows[0]["Label"] == "Route messaging" and rows[0]["IsActive"] is True


# --- errors ----------------------------------------------------------------------------------------


def error_of(api, soql):
    response = query(api, soql)
    assert response.status_code == 400
    assert_conforms(response, "query")
    [error] = response.json()
    return error["errorCode"], error["message"]


def test_unknown_object_is_invalid_type(api):
    assert error_of(api, "SELECT Id FROM Accountz LIMIT 2") == (
        "INVALID_TYPE",
        "\nSELECT Id FROM Accountz LIMIT 2\n               ^\nERROR at Row:1:Column:16\n"
        "sObject type 'Accountz' is not supported. If you are attempting to use a custom object, be sure to "
        f"append the '__c' after the entity name. {WSDL}",
    )


def test_tooling_only_object_is_invalid_type_on_the_data_api(api):
    assert error_of(api, "SELECT Id FROM CustomObject")[0] == "INVALID_TYPE"


def test_unknown_field_is_invalid_field(api):
    assert error_of(api, "SELECT Naem FROM Account") == (
        "INVALID_FIELD",
        "\nSELECT Naem FROM Account\n       ^\nERROR at Row:1:Column:8\n"
        "No such column 'Naem' on entity 'Account'. If you are attempting to use a custom field, be sure to "
        f"append the '__c' after the custom field name. {WSDL}",
    )


def test_unknown_field_in_where_points_at_it(api):
    code, message = error_of(api, "SELECT Id FROM Case WHERE Missing__c = 'x'")
    assert (
        code == "INVALID_FIELD"
        and "ERROR at Row:1:Column:27\nNo such column 'Missing__c' on entity 'Case'" in message
    )


def test_unknown_relationship(api):
    code, message = error_of(api, "SELECT Id, Boss.Name FROM Case")
    assert code == "INVALID_FIELD"
    assert message.endswith(
        "Didn't understand relationship 'Boss' in field path. If you are attempting to use a custom relationship, "
        f"be sure to append the '__r' after the custom relationship name. {WSDL}"
    )


@pytest.mark.parametrize(
    ("soql", "column", "reason"),
    [
        ("SELECT Id, FROM Case", 12, "unexpected token: 'FROM'"),
        ("SELECT Id FROM Case WHERE", 26, "unexpected token: '<EOF>'"),
        ("SELECT Id FROM Case WHERE Id = 'abc'", 32, "invalid ID field: abc"),
        (
            "SELECT Id FROM Case WHERE Status = 'New' AND Subject = 'x' OR Priority = 'High'",
            60,
            "unexpected token: 'OR'",
        ),
        ("SELECT Id FROM Case LIMIT x", 27, "unexpected token: 'x'"),
        ("SELECT Id, Id FROM Case", 12, "duplicate field selected: Id"),
        ("SELECT Id FROM Case WHERE Subject = 'open", 37, "unexpected token: '<EOF>'"),
        ("DELETE FROM Case", 1, "unexpected token: 'DELETE'"),
    ],
)
def test_malformed_queries(api, soql, column, reason):
    code, message = error_of(api, soql)
    assert code == "MALFORMED_QUERY"
    assert message == f"\n{soql}\n{' ' * (column - 1)}^\nERROR at Row:1:Column:{column}\n{reason}"


def test_wrong_literal_types(api):
    assert error_of(api, "SELECT Id FROM User WHERE IsActive = 'true'") == (
        "INVALID_FIELD",
        "\nSELECT Id FROM User WHERE IsActive = 'true'\n                                     ^\n"
        "ERROR at Row:1:Column:38\nvalue of filter criterion for field 'IsActive' must be of type boolean and "
        "should not be enclosed in quotes",
    )
    code, message = error_of(api, "SELECT Id FROM Case WHERE Subject = 5")
    assert code == "INVALID_FIELD" and message.endswith(
        "must be of type string and should be enclosed in quotes"
    )


def test_missing_q_is_malformed(api):
    response = api.get(f"{V}/query")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "MALFORMED_QUERY"
