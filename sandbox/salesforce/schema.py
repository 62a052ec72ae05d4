"""The sObject types the simulated org knows: fields, types, what the REST API may write, and where rows live.

Field names and types follow the Salesforce Object Reference. A field is known when it is declared here
or when some row of that type carries it (other simulators may store extra real fields, e.g. the
Interaction Service writes ``MessagingSession.SessionKey``), so the SOQL subset and the sObject API never
reject a field the sandbox itself writes.

Some types are *views*: their rows are derived on each read from other state (``FlowDefinitionView``
from the stored flows, the Tooling ``CustomObject``/``CustomField`` from ``org.platform_events``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .ids import KEY_PREFIXES, to18

if TYPE_CHECKING:
    from .org import Org

DATA = "data"  # /services/data/vXX.X/sobjects and /query
TOOLING = "tooling"  # /services/data/vXX.X/tooling/...


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str = (
        "string"  # id, string, textarea, boolean, datetime, int, double, picklist, reference, email, phone
    )
    reference_to: tuple[str, ...] = ()
    createable: bool = True
    updateable: bool = True
    required: bool = False  # must be given on create (nillable=false without a default)
    label: str = ""

    @property
    def relationship_name(self) -> str | None:
        """``OwnerId`` -> ``Owner``: the name SOQL uses to walk a lookup."""
        if self.type != "reference" or not self.name.endswith("Id"):
            return None
        return self.name[:-2]

    @property
    def polymorphic(self) -> bool:
        return len(self.reference_to) > 1

    def describe(self) -> dict:
        return {
            "name": self.name,
            "label": self.label or _label(self.name),
            "type": self.type,
            "nillable": not self.required and self.type not in ("id", "boolean"),
            "createable": self.createable,
            "updateable": self.updateable,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
        }


@dataclass
class ObjectDef:
    name: str
    label: str
    fields: dict[str, FieldDef]
    apis: tuple[str, ...] = (DATA,)
    createable: bool = False  # through POST .../sobjects/{name}
    updateable: bool = False
    deletable: bool = False
    rows: Callable[[Org], list[dict]] | None = None  # a view: rows computed from other state

    @property
    def key_prefix(self) -> str | None:
        return KEY_PREFIXES.get(self.name)

    def all_rows(self, org: Org) -> list[dict]:
        return self.rows(org) if self.rows else org.records.all(self.name)

    def field(self, org: Org, name: str) -> FieldDef | None:
        """The field by name, case-insensitively (as SOQL and the REST API match), or None."""
        wanted = name.lower()
        for known in self.fields.values():
            if known.name.lower() == wanted:
                return known
        for row in self.all_rows(org):
            for key in row:
                if key.lower() == wanted:
                    return FieldDef(key, _guess_type(row[key]), createable=False, updateable=False)
        return None

    def relationship(self, name: str) -> FieldDef | None:
        wanted = name.lower()
        for known in self.fields.values():
            if known.relationship_name and known.relationship_name.lower() == wanted:
                return known
        return None

    def describe(self, version: str, api: str = DATA) -> dict:
        base = f"/services/data/v{version}/{'tooling/' if api == TOOLING else ''}sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label + "s",
            "keyPrefix": self.key_prefix,
            "custom": self.name.endswith(("__c", "__e")),
            "queryable": True,
            "createable": self.createable,
            "updateable": self.updateable,
            "deletable": self.deletable,
            "retrieveable": True,
            "searchable": False,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }


def _label(name: str) -> str:
    out = ""
    for i, ch in enumerate(name):
        if i and ch.isupper() and not name[i - 1].isupper():
            out += " "
        out += ch
    return out


def _guess_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    return "string"


def _f(name: str, type_: str = "string", *refs: str, ro: bool = False, required: bool = False) -> FieldDef:
    return FieldDef(name, type_, tuple(refs), createable=not ro, updateable=not ro, required=required)


AUDIT_FIELDS = (
    _f("Id", "id", ro=True),
    _f("CreatedDate", "datetime", ro=True),
    _f("CreatedById", "reference", "User", ro=True),
    _f("LastModifiedDate", "datetime", ro=True),
    _f("LastModifiedById", "reference", "User", ro=True),
    _f("SystemModstamp", "datetime", ro=True),
    _f("IsDeleted", "boolean", ro=True),
)


def _object(name: str, label: str, *fields: FieldDef, **options) -> ObjectDef:
    return ObjectDef(name, label, {f.name: f for f in (*AUDIT_FIELDS, *fields)}, **options)


# --- views -------------------------------------------------------------------------------------


def stable_id(org: Org, sobject: str, key: str, prefix: str | None = None) -> str:
    """A deterministic 18-character id for a view row (same name, same id, on every read)."""
    prefix = prefix or KEY_PREFIXES.get(sobject, "a0X")
    digest = hashlib.sha256(f"{org.org_id}:{sobject}:{key}".encode()).digest()
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    tail = "".join(alphabet[b % 62] for b in digest[:10])
    return to18(prefix + org.org_id[3:5] + tail)


def _created(org: Org) -> dict:
    organization = org.records.get("Organization", org.org_id) or {}
    return {
        "CreatedDate": organization.get("CreatedDate"),
        "LastModifiedDate": organization.get("CreatedDate"),
        "SystemModstamp": organization.get("CreatedDate"),
    }


def custom_object_rows(org: Org) -> list[dict]:
    """Tooling ``CustomObject`` rows for the org's platform events (``DeveloperName`` has no suffix)."""
    return [
        {
            "Id": stable_id(org, "CustomObject", event.api_name),
            "DeveloperName": event.api_name.removesuffix("__e"),
            "FullName": event.api_name,
            "NamespacePrefix": None,
            "ManageableState": "unmanaged",
            "ExternalName": None,
            "Description": None,
            **_created(org),
        }
        for event in org.platform_events.values()
    ]


def custom_field_rows(org: Org) -> list[dict]:
    """Tooling ``CustomField`` rows for the custom fields of the org's platform events."""
    rows = []
    for event in org.platform_events.values():
        table_id = stable_id(org, "CustomObject", event.api_name)
        for field_name, field_type in event.fields.items():
            full_name = f"{event.api_name}.{field_name}"
            rows.append(
                {
                    "Id": stable_id(org, "CustomField", full_name),
                    "DeveloperName": field_name.removesuffix("__c"),
                    "TableEnumOrId": table_id,
                    "FullName": full_name,
                    "NamespacePrefix": None,
                    "ManageableState": "unmanaged",
                    "Description": None,
                    # Not a real column (Metadata.type is); kept so tests can read the type back.
                    "DataType": field_type,
                    **_created(org),
                }
            )
    return rows


def flow_definition_rows(org: Org) -> list[dict]:
    """``FlowDefinitionView`` rows (data API) for the stored flows, all active in version 1."""
    return [
        {
            "Id": flow["Id"],
            "DurableId": flow["Id"],
            "ApiName": flow.get("ApiName"),
            "Label": flow.get("Label"),
            "ProcessType": flow.get("ProcessType"),
            "IsActive": True,
            "ActiveVersionId": flow["Id"],
            "LatestVersionId": flow["Id"],
            "NamespacePrefix": None,
        }
        for flow in org.records.all("Flow")
    ]


def flow_rows(org: Org) -> list[dict]:
    """Tooling ``Flow`` (flow versions) for the stored flows."""
    return [
        {
            **flow,
            "MasterLabel": flow.get("Label"),
            "Status": "Active",
            "VersionNumber": 1,
            "DefinitionId": flow["Id"],
        }
        for flow in org.records.all("Flow")
    ]


# --- the catalogue -----------------------------------------------------------------------------

OWNER = ("User", "Group")

OBJECTS: dict[str, ObjectDef] = {
    o.name: o
    for o in (
        _object(
            "Organization",
            "Organization",
            _f("Name"),
            _f("IsSandbox", "boolean", ro=True),
            _f("OrganizationType", ro=True),
            _f("InstanceName", ro=True),
            _f("NamespacePrefix", ro=True),
        ),
        _object(
            "User",
            "User",
            _f("Username", required=True),
            _f("Name", ro=True),
            _f("FirstName"),
            _f("LastName", required=True),
            _f("Email", "email", required=True),
            _f("Alias"),
            _f("IsActive", "boolean"),
            _f("UserType", "picklist", ro=True),
            _f("ProfileId", "reference", "Profile"),
            _f("UserRoleId", "reference", "UserRole"),
            _f("TimeZoneSidKey", "picklist"),
            _f("LocaleSidKey", "picklist"),
            _f("LanguageLocaleKey", "picklist"),
            _f("FederationIdentifier"),
        ),
        _object(
            "Group",
            "Group",
            _f("Name", required=True),
            _f("DeveloperName"),
            _f("Type", "picklist", required=True),
            _f("Email", "email"),
            _f("OwnerId", "reference", *OWNER, ro=True),
        ),
        _object(
            "Account",
            "Account",
            _f("Name", required=True),
            _f("Phone", "phone"),
            _f("Website", "url"),
            _f("Industry", "picklist"),
            _f("Type", "picklist"),
            _f("Description", "textarea"),
            _f("OwnerId", "reference", "User"),
            createable=True,
            updateable=True,
            deletable=True,
        ),
        _object(
            "Contact",
            "Contact",
            _f("FirstName"),
            _f("LastName", required=True),
            _f("Name", ro=True),
            _f("Email", "email"),
            _f("Phone", "phone"),
            _f("MobilePhone", "phone"),
            _f("Title"),
            _f("Description", "textarea"),
            _f("AccountId", "reference", "Account"),
            _f("OwnerId", "reference", "User"),
            createable=True,
            updateable=True,
            deletable=True,
        ),
        _object(
            "Case",
            "Case",
            _f("CaseNumber", ro=True),
            _f("Subject"),
            _f("Description", "textarea"),
            _f("Status", "picklist"),
            _f("Origin", "picklist"),
            _f("Priority", "picklist"),
            _f("Type", "picklist"),
            _f("Reason", "picklist"),
            _f("IsClosed", "boolean", ro=True),
            _f("ClosedDate", "datetime", ro=True),
            _f("SuppliedName"),
            _f("SuppliedEmail", "email"),
            _f("SuppliedPhone", "phone"),
            _f("ContactId", "reference", "Contact"),
            _f("AccountId", "reference", "Account"),
            _f("ParentId", "reference", "Case"),
            _f("OwnerId", "reference", *OWNER),
            createable=True,
            updateable=True,
            deletable=True,
        ),
        # The Case's transcript and files (the Cases desk): FeedItem, CaseComment, ContentVersion and the
        # ContentDocument(Link) Salesforce makes for a version published to a record.
        _object(
            "FeedItem",
            "Feed Item",
            _f("ParentId", "reference", "Case", "Account", "Contact", "User", required=True),
            _f("Type", "picklist"),
            _f("Body", "textarea"),
            _f("IsRichText", "boolean"),
            _f("Title"),
            _f("LinkUrl", "url"),
            _f("RelatedRecordId", "reference", "ContentVersion"),
            _f("Visibility", "picklist"),
            _f("CommentCount", "int", ro=True),
            createable=True,
            updateable=True,
            deletable=True,
        ),
        _object(
            "CaseComment",
            "Case Comment",
            _f("ParentId", "reference", "Case", required=True),
            _f("CommentBody", "textarea"),
            _f("IsPublished", "boolean"),
            createable=True,
            updateable=True,
            deletable=True,
        ),
        _object(
            "ContentVersion",
            "Content Version",
            _f("Title"),
            _f("PathOnClient", required=True),
            _f("VersionData", "base64"),
            _f("FirstPublishLocationId", "reference", "Case", "Account", "Contact", "User"),
            _f("ContentDocumentId", "reference", "ContentDocument", ro=True),
            _f("ContentSize", "int", ro=True),
            _f("FileExtension", ro=True),
            _f("FileType", ro=True),
            _f("IsLatest", "boolean", ro=True),
            createable=True,
            updateable=True,
        ),
        _object(
            "ContentDocumentLink",
            "Content Document Link",
            _f("ContentDocumentId", "reference", "ContentDocument", required=True),
            _f("LinkedEntityId", "reference", "Case", "Account", "Contact", "User", required=True),
            _f("ShareType", "picklist"),
            _f("Visibility", "picklist"),
            createable=True,
            deletable=True,
        ),
        _object(
            "MessagingEndUser",
            "Messaging User",
            _f("Name", required=True),
            _f("MessagingChannelId", "reference", "MessagingChannel", required=True),
            _f("MessageType", "picklist", required=True),
            _f("MessagingPlatformKey", required=True),
            _f("MessagingConsentStatus", "picklist"),
            _f("ContactId", "reference", "Contact"),
            _f("AccountId", "reference", "Account"),
            _f("OwnerId", "reference", *OWNER),
            createable=True,
            updateable=True,
            deletable=True,
        ),
        _object(
            "MessagingSession",
            "Messaging Session",
            _f("Name", ro=True),
            _f("MessagingChannelId", "reference", "MessagingChannel", required=True),
            _f("MessagingEndUserId", "reference", "MessagingEndUser", required=True),
            _f("Status", "picklist", required=True),
            _f("Origin", "picklist"),
            _f("ChannelType", "picklist"),
            _f("CaseId", "reference", "Case"),
            _f("LeadId", "reference", "Lead"),
            _f("OpportunityId", "reference", "Opportunity"),
            _f("OwnerId", "reference", *OWNER),
            _f("TargetUserId", "reference", "User"),
            _f("ConversationId", "reference", "Conversation", ro=True),
            _f("EndUserAccountId", "reference", "Account"),
            _f("EndUserContactId", "reference", "Contact"),
            _f("SessionKey", ro=True),
            _f("AgentType", "picklist"),
            _f("EndedByType", "picklist", ro=True),
            _f("AcceptTime", "datetime", ro=True),
            _f("StartTime", "datetime", ro=True),
            _f("EndTime", "datetime", ro=True),
            createable=True,
            updateable=True,
            deletable=True,
        ),
        _object(
            "MessagingChannel",
            "Messaging Channel",
            _f("DeveloperName", ro=True),
            _f("MasterLabel", ro=True),
            _f("MessageType", "picklist", ro=True),
            _f("ChannelAddressIdentifier", ro=True),
            _f("ChannelDefinitionId", "reference", "ConversationChannelDefinition", ro=True),
            _f("IsActive", "boolean", ro=True),
            _f("RoutingType", "picklist", ro=True),
            _f("TargetQueueId", "reference", "Group", ro=True),
        ),
        _object(
            "Conversation",
            "Conversation",
            _f("Name", ro=True),
            _f("ConversationIdentifier", ro=True),
            _f("ConversationChannelId", "reference", "MessagingChannel", ro=True),
        ),
        _object(
            "ConversationEntry",
            "Conversation Entry",
            _f("ConversationId", "reference", "MessagingSession", ro=True),
            _f("EntryType", "picklist", ro=True),
            _f("Message", "textarea", ro=True),
            _f("ActorType", "picklist", ro=True),
            _f("ActorId", "reference", "User", ro=True),
            _f("ActorName", ro=True),
            _f("EntryTime", "datetime", ro=True),
            _f("Seq", "int", ro=True),
            _f("ConversationEntryIdentifier", ro=True),
        ),
        _object(
            "ConversationVendorInfo",
            "Conversation Vendor Info",
            _f("DeveloperName", required=True),
            _f("MasterLabel", required=True),
            _f("Language", "picklist"),
            _f("NamespacePrefix", ro=True),
            _f("VendorType", "picklist"),
            _f("ConnectorUrl", "url"),
            apis=(DATA, TOOLING),
        ),
        _object(
            "ConversationChannelDefinition",
            "Conversation Channel Definition",
            _f("DeveloperName", required=True),
            _f("MasterLabel", required=True),
            _f("Language", "picklist"),
            _f("NamespacePrefix", ro=True),
            _f("ConversationVendorInfoId", "reference", "ConversationVendorInfo"),
            _f("ConnectedAppType", "picklist"),
            _f("CustomPlatformEvent"),
            _f("CustomEventTypeField"),
            _f("CustomEventPayloadField"),
            _f("RoutingOwner", "picklist"),
            _f("ConsentOwner", "picklist"),
            _f("IsTypingIndicatorDisabled", "boolean"),
            _f("IsInboundReceiptsEnabled", "boolean"),
            _f("SupportsImplicitConsent", "boolean"),
            _f("SupportsExplicitConsent", "boolean"),
            _f("SupportsKeywords", "boolean"),
            _f("SupportsCustomChannelParameters", "boolean"),
            apis=(DATA, TOOLING),
        ),
        _object(
            "FlowDefinitionView",
            "Flow Definition View",
            _f("DurableId", ro=True),
            _f("ApiName", ro=True),
            _f("Label", ro=True),
            _f("ProcessType", "picklist", ro=True),
            _f("IsActive", "boolean", ro=True),
            _f("ActiveVersionId", "reference", "Flow", ro=True),
            _f("LatestVersionId", "reference", "Flow", ro=True),
            _f("NamespacePrefix", ro=True),
            rows=flow_definition_rows,
        ),
        _object(
            "Flow",
            "Flow",
            _f("ApiName", ro=True),
            _f("Label", ro=True),
            _f("MasterLabel", ro=True),
            _f("ProcessType", "picklist", ro=True),
            _f("Status", "picklist", ro=True),
            _f("VersionNumber", "int", ro=True),
            _f("DefinitionId", "reference", "FlowDefinition", ro=True),
            apis=(TOOLING,),
            rows=flow_rows,
        ),
        _object(
            "CustomObject",
            "Custom Object",
            _f("DeveloperName", ro=True),
            _f("FullName", ro=True),
            _f("NamespacePrefix", ro=True),
            _f("ManageableState", "picklist", ro=True),
            _f("ExternalName", ro=True),
            _f("Description", "textarea", ro=True),
            apis=(TOOLING,),
            rows=custom_object_rows,
        ),
        _object(
            "CustomField",
            "Custom Field",
            _f("DeveloperName", ro=True),
            _f("TableEnumOrId", ro=True),
            _f("FullName", ro=True),
            _f("NamespacePrefix", ro=True),
            _f("ManageableState", "picklist", ro=True),
            _f("Description", "textarea", ro=True),
            apis=(TOOLING,),
            rows=custom_field_rows,
        ),
    )
}


def lookup(name: str, api: str = DATA) -> ObjectDef | None:
    """The object by (case-insensitive) name if the given API exposes it."""
    wanted = name.lower()
    for obj in OBJECTS.values():
        if obj.name.lower() == wanted and api in obj.apis:
            return obj
    return None


def object_of_id(record_id: str) -> str | None:
    """The sObject type a record id belongs to, from its key prefix."""
    for name, prefix in KEY_PREFIXES.items():
        if record_id[:3] == prefix:
            return name
    return None


def names(api: str = DATA) -> list[str]:
    """The sObject types an API lists in ``GET .../sobjects``."""
    return sorted(o.name for o in OBJECTS.values() if api in o.apis)


# Omni-Channel presence views (UserServicePresence, ServicePresenceStatus) live in their own module.
from . import presence  # noqa: E402, F401
