"""Tooling API: the setup a partner wizard performs (platform event, fields, CVI, CCD) and tooling queries."""

from __future__ import annotations

import pytest

from . import core_support
from .core_support import (
    V,
    assert_conforms,
)

api = core_support.api  # fixture
core_org = core_support.core_org  # fixture

T = f"{V}/tooling"
EVENT = "Acme_Msg__e"


def tooling_create(api, sobject, full_name, metadata):
    return api.post(f"{T}/sobjects/{sobject}", json={"FullName": full_name, "Metadata": metadata})


def tooling_query(api, soql):
    response = api.get(f"{T}/query", params={"q": soql})
    assert_conforms(response, "tooling-query")
    return response


def create_event_with_fields(api):
    created = tooling_create(
        api,
        "CustomObject",
        EVENT,
        {
            "label": "Acme Msg",
            "pluralLabel": "Acme Msgs",
            "deploymentStatus": "Deployed",
            "eventType": "HighVolume",
        },
    )
    assert created.status_code == 201, created.text
    for field, kind in (("EventType__c", "Text"), ("Payload__c", "LongTextArea")):
        response = tooling_create(
            api, "CustomField", f"{EVENT}.{field}", {"label": field, "type": kind, "length": 255}
        )
        assert response.status_code == 201, response.text
    return created.json()["id"]


def test_wizard_setup_creates_event_fields_vendor_and_channel_definition(api, sandbox, core_org):
    event_id = create_event_with_fields(api)
    assert event_id.startswith("01I")
    vendor = tooling_create(
        api,
        "ConversationVendorInfo",
        "switchboard",
        {"developerName": "switchboard", "masterLabel": "Switchboard", "vendorType": "BringYourOwnChannelPartner",
         "connectorUrl": "https://portal.example.com"},
    )  # fmt: skip
    assert vendor.status_code == 201
    assert_conforms(vendor, "tooling-create")
    assert vendor.json() == {
        "id": vendor.json()["id"],
        "success": True,
        "errors": [],
        "warnings": [],
        "infos": [],
    }
    ccd = tooling_create(
        api,
        "ConversationChannelDefinition",
        "Acme_WhatsApp_CCD",
        {"developerName": "Acme_WhatsApp_CCD", "masterLabel": "Acme WhatsApp", "conversationVendorInfo": "switchboard",
         "connectedAppType": "Partner", "customPlatformEvent": EVENT,
         "customEventTypeField": f"{EVENT}.EventType__c", "customEventPayloadField": f"{EVENT}.Payload__c",
         "routingOwner": "Salesforce", "consentOwner": "Salesforce", "isInboundReceiptsEnabled": True,
         "isTypingIndicatorDisabled": False},
    )  # fmt: skip
    assert ccd.status_code == 201
    assert ccd.json()["id"].startswith("0oP")

    def state():
        org = sandbox.world.orgs.get(core_org)
        return dict(org.platform_events[EVENT].fields), org.records.first(
            "ConversationChannelDefinition", DeveloperName="Acme_WhatsApp_CCD"
        )

    fields, row = sandbox.call(state)
    assert fields == {"EventType__c": "Text", "Payload__c": "LongTextArea"}
    # The Interaction Service reads exactly these fields.
    assert row["CustomPlatformEvent"] == EVENT
    assert row["CustomEventTypeField"] == f"{EVENT}.EventType__c"
    assert row["CustomEventPayloadField"] == f"{EVENT}.Payload__c"
    assert row["RoutingOwner"] == "Salesforce" and row["IsInboundReceiptsEnabled"] is True
    assert row["ConversationVendorInfoId"] == vendor.json()["id"]

    found = tooling_query(api, "SELECT Id, DeveloperName, ConnectedAppType FROM ConversationChannelDefinition "
                               "WHERE DeveloperName = 'Acme_WhatsApp_CCD'").json()  # fmt: skip
    assert found["size"] == 1 and found["entityTypeName"] == "ConversationChannelDefinition"
    assert found["records"][0]["attributes"]["url"] == (
        f"/services/data/v62.0/tooling/sobjects/ConversationChannelDefinition/{ccd.json()['id']}"
    )
    assert found["records"][0]["ConnectedAppType"] == "Partner"


def test_platform_event_lookups_by_developer_name(api):
    event_id = create_event_with_fields(api)
    objects = tooling_query(
        api, "SELECT Id, DeveloperName FROM CustomObject WHERE DeveloperName = 'Acme_Msg'"
    ).json()
    assert objects["totalSize"] == 1 and objects["records"][0]["Id"] == event_id
    fields = tooling_query(
        api,
        f"SELECT DeveloperName FROM CustomField WHERE TableEnumOrId = '{event_id}' ORDER BY DeveloperName",
    ).json()["records"]
    assert [f["DeveloperName"] for f in fields] == ["EventType", "Payload"]


def test_fixture_events_are_visible_to_tooling_queries(api):
    rows = tooling_query(api, "SELECT Id, FullName FROM CustomObject").json()["records"]
    assert [r["FullName"] for r in rows] == ["Switchboard_Interaction__e"]


def test_tooling_record_read_and_delete(api, sandbox, core_org):
    event_id = create_event_with_fields(api)
    read = api.get(f"{T}/sobjects/CustomObject/{event_id}")
    assert read.status_code == 200 and read.json()["DeveloperName"] == "Acme_Msg"
    assert api.delete(f"{T}/sobjects/CustomObject/{event_id}").status_code == 204
    assert sandbox.call(lambda: EVENT in sandbox.world.orgs.get(core_org).platform_events) is False


def test_duplicates_are_duplicate_developer_name(api):
    create_event_with_fields(api)
    for sobject, name, metadata in (
        ("CustomObject", EVENT, {"label": "again"}),
        ("CustomField", f"{EVENT}.Payload__c", {"type": "Text"}),
        ("ConversationChannelDefinition", "Switchboard_Messaging", {"customPlatformEvent": EVENT}),
    ):
        response = tooling_create(api, sobject, name, metadata)
        assert response.status_code == 400
        assert_conforms(response, "tooling-create")
        [error] = response.json()
        assert error["errorCode"] == "DUPLICATE_DEVELOPER_NAME" and name in error["message"]
    assert tooling_create(api, "ConversationVendorInfo", "v1", {"masterLabel": "V"}).status_code == 201
    assert tooling_create(api, "ConversationVendorInfo", "v1", {"masterLabel": "V"}).json()[0][
        "errorCode"
    ] == ("DUPLICATE_DEVELOPER_NAME")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"Metadata": {"label": "x"}}, "REQUIRED_FIELD_MISSING"),
        ({"FullName": "X__e"}, "REQUIRED_FIELD_MISSING"),
        ({"FullName": "X__e", "Metadata": {"label": "x"}, "Colour": 1}, "INVALID_FIELD"),
        ({"FullName": "X__c", "Metadata": {"label": "x"}}, "FIELD_INTEGRITY_EXCEPTION"),
        ({"FullName": "X__e", "Metadata": {}}, "REQUIRED_FIELD_MISSING"),
    ],
)
def test_custom_object_body_errors(api, body, code):
    response = api.post(f"{T}/sobjects/CustomObject", json=body)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == code


def test_required_field_missing_body(api):
    response = api.post(f"{T}/sobjects/CustomObject", json={"Metadata": {"label": "x"}})
    assert response.json() == [
        {
            "message": "Required fields are missing: [FullName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["FullName"],
        }
    ]


def test_field_on_missing_event_and_ccd_on_missing_event(api):
    field = tooling_create(api, "CustomField", "Nope__e.Payload__c", {"type": "Text"})
    assert field.json()[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    ccd = tooling_create(api, "ConversationChannelDefinition", "X", {"customPlatformEvent": "Nope__e"})
    assert ccd.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    create_event_with_fields(api)
    bad_field = tooling_create(
        api,
        "ConversationChannelDefinition",
        "X",
        {"customPlatformEvent": EVENT, "customEventPayloadField": f"{EVENT}.Body__c"},
    )
    assert bad_field.json()[0]["fields"] == ["CustomEventPayloadField"]


def test_unsupported_tooling_types(api):
    assert api.post(f"{T}/sobjects/ApexClass", json={}).status_code == 404
    refused = api.post(f"{T}/sobjects/Flow", json={"FullName": "x", "Metadata": {}})
    assert refused.json()[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"


def test_data_objects_are_not_tooling_objects(api):
    response = api.get(f"{T}/query", params={"q": "SELECT Id FROM Case"})
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "INVALID_TYPE"


def test_flow_versions_via_tooling(api):
    rows = tooling_query(api, "SELECT MasterLabel, Status FROM Flow WHERE ProcessType = 'RoutingFlow'").json()
    assert rows["records"][0]["Status"] == "Active"
