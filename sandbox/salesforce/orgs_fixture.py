"""Build simulated orgs from a fixture document or the control API (same shape for both)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .org import ConnectedApp, Org, PlatformEventDef

if TYPE_CHECKING:
    from ..world import World


def create_org(world: World, spec: dict) -> Org:
    org = world.orgs.add(
        Org(
            org_id=spec["org_id"],
            name=spec.get("name", "Simulated Org"),
            my_domain=spec.get("my_domain", "sandbox-org"),
            is_sandbox=bool(spec.get("is_sandbox", False)),
            ccaas_enabled=bool(spec.get("ccaas_enabled", False)),
            legacy_chat_enabled=bool(spec.get("legacy_chat_enabled", False)),
            api_request_limit=int(spec.get("api_request_limit", 15000)),
            token_lifetime_seconds=int(spec.get("token_lifetime_seconds", 7200)),
            case_subject_required=bool(spec.get("case_subject_required", False)),
        )
    )
    org.change_events = set(spec.get("change_data_capture", []))  # e.g. ["Case"]
    records = org.records
    for user in spec.get("users", []):
        records.insert(
            "User",
            {
                "Username": user["username"],
                "Name": user.get("name", user["username"]),
                "FirstName": user.get("name", "").split(" ")[0] or None,
                "LastName": user.get("name", user["username"]).split(" ")[-1],
                "Email": user.get("email", user["username"]),
                "IsActive": user.get("active", True),
                "UserType": "Standard",
                # Simulation-only: whether this user takes Omni-Channel work and is online now.
                "IsAgent": user.get("agent", False),
                "IsOnline": user.get("online", False),
            },
            record_id=user.get("id"),
        )
    for queue in spec.get("queues", []):
        records.insert(
            "Group",
            {
                "Name": queue["name"],
                "DeveloperName": queue.get("developer_name", queue["name"]),
                "Type": "Queue",
            },
            record_id=queue.get("id"),
        )
    for flow in spec.get("flows", []):
        records.insert(
            "Flow",
            {
                "ApiName": flow["api_name"],
                "Label": flow.get("label", flow["api_name"]),
                "ProcessType": "RoutingFlow",
            },
            record_id=flow.get("id"),
        )
    for app in spec.get("connected_apps", []):
        add_connected_app(org, app)
    for event in spec.get("platform_events", []):
        add_platform_event(org, event)
    for ccd in spec.get("channel_definitions", []):
        records.insert(
            "ConversationChannelDefinition",
            {
                "DeveloperName": ccd["developer_name"],
                "MasterLabel": ccd.get("master_label", ccd["developer_name"]),
                "CustomPlatformEvent": ccd["platform_event"],
                "CustomEventTypeField": f"{ccd['platform_event']}.{ccd.get('type_field', 'EventType__c')}",
                "CustomEventPayloadField": f"{ccd['platform_event']}.{ccd.get('payload_field', 'Payload__c')}",
                "RoutingOwner": ccd.get("routing_owner", "Salesforce"),
                "ConsentOwner": "Salesforce",
                "IsTypingIndicatorDisabled": bool(ccd.get("typing_disabled", False)),
                "IsInboundReceiptsEnabled": True,
                "ConnectedAppType": ccd.get("connected_app_type", "Customer"),
            },
            record_id=ccd.get("id"),
        )
    for channel in spec.get("messaging_channels", []):
        ccd = records.first("ConversationChannelDefinition", DeveloperName=channel["channel_definition"])
        if ccd is None:
            raise ValueError(f"messaging channel {channel['developer_name']}: unknown channel definition")
        queue = (
            records.first("Group", Type="Queue", DeveloperName=channel["queue"])
            if channel.get("queue")
            else None
        )
        records.insert(
            "MessagingChannel",
            {
                "DeveloperName": channel["developer_name"],
                "MasterLabel": channel.get("master_label", channel["developer_name"]),
                "MessageType": "Custom",  # Partner Messaging (BYOC) channels
                "ChannelAddressIdentifier": channel["channel_address_identifier"],
                "ChannelDefinitionId": ccd["Id"],
                "IsActive": channel.get("active", True),
                "RoutingType": "OmniQueue" if queue else "OmniFlow",
                "TargetQueueId": queue["Id"] if queue else None,
            },
            record_id=channel.get("id"),
        )
    world.livechat.load_org(org, spec.get("livechat", {}))
    world.enhancedchat.load_org(org, spec.get("enhanced_chat", {}))
    return org


def add_connected_app(org: Org, spec: dict) -> ConnectedApp:
    app = ConnectedApp(
        consumer_key=spec["consumer_key"],
        consumer_secret=spec.get("consumer_secret", ""),
        certificate_pem=spec.get("certificate_pem", ""),
        developer_name=spec.get("developer_name", "Switchboard"),
        preauthorized_usernames=set(spec.get("preauthorized", [])),
        canvas_url=spec.get("canvas_url", ""),
    )
    if "scopes" in spec:
        app.scopes = tuple(spec["scopes"])
    org.connected_apps[app.consumer_key] = app
    return app


def add_platform_event(org: Org, spec: dict) -> PlatformEventDef:
    event = PlatformEventDef(
        api_name=spec["api_name"],
        label=spec.get("label", spec["api_name"]),
        fields=dict(spec.get("fields", {"EventType__c": "Text", "Payload__c": "LongTextArea"})),
    )
    org.platform_events[event.api_name] = event
    return event


def load_orgs(world: World, specs: list[dict]) -> None:
    for spec in specs:
        create_org(world, spec)
