"""What the Cases desk needs of the integration user, checked live (the wizard and the partner API run it in
a worker): describe Case, Contact, the transcript object and ContentVersion (each must be visible, and
createable or updateable as the desk uses it), and ask the Pub/Sub API for ``/data/CaseChangeEvent`` (Case
selected for Change Data Capture, and the user allowed to subscribe: View All on Case, docs/cases.md).

Each problem is keyed by what is wrong (``case``, ``contact``, ``transcript``, ``files``, ``change_events``)
with a sentence that says what to change in Setup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from pubsub_api import METADATA_ACCESS_TOKEN, METADATA_INSTANCE_URL, METADATA_TENANT_ID, pb2, pb2_grpc

from ..errors import ExternalError
from ..salesforce import auth
from ..salesforce.pubsub import RPC_TIMEOUT_SECONDS, open_channel
from ..salesforce.rest import SalesforceRest

TOPIC = "/data/CaseChangeEvent"


@dataclass
class CasesAccess:
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _needs(transcript: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(key, object, flags the desk needs on it)."""
    record = ("FeedItem", ("createable",)) if transcript != "comment" else ("CaseComment", ("createable",))
    return [
        ("case", "Case", ("createable", "updateable", "queryable")),
        ("contact", "Contact", ("createable", "queryable")),
        ("transcript", *record),
        ("files", "ContentVersion", ("createable",)),
    ]


def check_cases_access(connection, transcript: str) -> CasesAccess:
    """Describe calls and GetTopic as the integration user. ExternalError when Salesforce cannot be reached
    (the caller reports it as such, not as a missing permission)."""
    result = CasesAccess()
    rest = SalesforceRest(connection)
    for key, sobject, flags in _needs(transcript):
        try:
            described = rest.describe(sobject)
        except ExternalError as exc:
            if not exc.permanent:
                raise
            result.problems[key] = (
                f"The integration user cannot see {sobject}: give its profile Read on {sobject}."
            )
            continue
        missing = [flag for flag in flags if not described.get(flag)]
        if missing:
            verbs = ", ".join(
                {"createable": "Create", "updateable": "Edit", "queryable": "Read"}[m] for m in missing
            )
            result.problems[key] = f"The integration user needs {verbs} on {sobject}."
    problem = _change_events(connection)
    if problem:
        result.problems["change_events"] = problem
    return result


def _change_events(connection) -> str:
    token = auth.get_token(connection)
    metadata = (
        (METADATA_ACCESS_TOKEN, str(token.access_token)),
        (METADATA_INSTANCE_URL, token.instance_url or connection.instance_url),
        (METADATA_TENANT_ID, connection.tenant.org_id),
    )
    channel = open_channel()
    try:
        info = pb2_grpc.PubSubStub(channel).GetTopic(
            pb2.TopicRequest(topic_name=TOPIC), metadata=metadata, timeout=RPC_TIMEOUT_SECONDS
        )
    except grpc.RpcError as exc:
        if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise ExternalError(
                f"The Pub/Sub API could not be reached: {exc.details() or exc.code()}"
            ) from exc
        return (
            f"Salesforce refused {TOPIC} ({exc.details() or exc.code()}): select Case in Setup → Change Data "
            "Capture, and give the integration user View All on Case."
        )
    finally:
        channel.close()
    if not info.can_subscribe:
        return f"The integration user may not subscribe to {TOPIC}: give it View All on Case."
    return ""
