"""Protocol fidelity: everything the relay sends Salesforce and Infobip in a broad conversation conforms to
the vendors' own specifications, as checked by an independent tool that knows nothing of our code.

The tool (shared/tools/fidelity, beside the repository in CI) records the traffic through reverse proxies put
between the relay and the sandbox, then validates each request against Salesforce's Interaction Service YAML,
its core spec (OAuth JWT token, REST query/sObjects/composite/Tooling) and Infobip's 3.210.0 OpenAPI files,
with undeclared members failing too (--strict-properties). The same tenant then runs a conversation on the
Cases desk, so its REST traffic (Case, Contact, FeedItem, CaseComment, ContentVersion, the reopening PATCH and
its SOQL) is checked too; the Enhanced Chat desk is left out (the tool has no spec for its API).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.core.cache import cache
from django.utils import timezone

from portal.console.wizard import channel_setup, lists
from relay.desks.cases import reply_from_panel
from relay.desks.cases_models import CaseEntry, CaseLink
from relay.handover.models import Handover, HandoverEndpoint
from relay.models import Conversation, Message
from relay.outbound.template_sync import sync_sender
from relay.salesforce import capabilities
from relay.salesforce.rest import SalesforceRest
from tenants.models import ProviderAccount, RoutingRule, SalesforceConnection, Sender, WhatsAppTemplate
from tests.console.templates_panel_support import add_template, token
from tests.e2e.conftest import (
    SMS,
    VIBER,
    WHATSAPP,
    agent_id,
    agent_replies,
    console_sessions,
    customer_entries,
    customer_writes,
    phone_received,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
FIDELITY = ROOT.parent / "shared" / "tools" / "fidelity"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (FIDELITY / "validate.py").exists(),
        reason=f"the fidelity tool is not at {FIDELITY} (CI puts shared/ beside the repository)",
    ),
]
PNG = base64.b64decode(  # a real 1×1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
# One customer per part of the conversation, so each part's outcome is found without ambiguity.
WHATSAPP_CUSTOMER = "385919997701"
SMS_CUSTOMER = "385919997702"
VIBER_CUSTOMER = "385919997703"
LATE_CUSTOMER = "385919997704"  # answered after the 24-hour window
HANDOVER_CUSTOMER = "385919997705"
CASES_CUSTOMER = "385919997706"  # the Cases desk's conversation
# The ceiling of each wait for the worker and listener (a deadline, not a delay; CI machines are shared).
SETTLE_SECONDS = 45
# (log name, kind, the sandbox path the proxy forwards to)
PROXIED = [
    ("login", "salesforce-core", "/sim/login"),
    ("core", "salesforce-core", "/sim/core"),
    ("scrt", "salesforce-scrt", "/sim/scrt"),
    ("infobip", "infobip", "/sim/infobip"),
]


def settle(predicate, *, what: str):
    return wait_for(predicate, timeout=SETTLE_SECONDS, what=what)


class RecordingProxy:
    """The fidelity tool's record_proxy.py in front of one sandbox API, on a free loopback port."""

    def __init__(self, name: str, kind: str, target: str, log_dir: Path) -> None:
        self.log = log_dir / f"{name}.jsonl"
        self.output = log_dir / f"{name}.out"
        self._output = open(self.output, "w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "record_proxy.py", "--listen", "127.0.0.1:0", "--target", target]
            + ["--kind", kind, "--log", str(self.log)],
            cwd=FIDELITY,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        first = wait_for(self._first_line, timeout=30, what=f"the {name} recording proxy to listen")
        if not first.startswith("LISTENING "):
            pytest.fail(f"the {name} recording proxy did not start: {self.output.read_text()}")
        self.url = "http://" + first.split()[1]

    def _first_line(self) -> str:
        text = self.output.read_text()
        if "\n" in text:
            return text.splitlines()[0]
        if self.proc.poll() is not None:
            return f"exited with {self.proc.returncode}: {text}"
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._output.close()


@pytest.fixture
def proxies(wired, tmp_path):
    """Recording proxies between the demo tenant and the sandbox; the tenant's URLs point at them."""
    started: dict[str, RecordingProxy] = {}
    try:
        for name, kind, path in PROXIED:
            started[name] = RecordingProxy(name, kind, wired.sandbox.base_url + path, tmp_path)
        SalesforceConnection.objects.filter(tenant=wired.tenant).update(
            login_url=started["login"].url, instance_url=started["core"].url, scrt_url=started["scrt"].url
        )
        ProviderAccount.objects.filter(tenant=wired.tenant).update(base_url=started["infobip"].url)
        cache.clear()  # no token minted before the switch: the test's own mint is recorded
        wired.tenant.refresh_from_db()
        yield started
    finally:
        for proxy in started.values():
            proxy.stop()


def accept(wired, customer: str, ada: str) -> dict:
    """The customer's Messaging Session, once it exists, accepted by Ada."""

    def waiting():
        sessions = console_sessions(wired.sim, wired.org_id)
        return [s for s in sessions if (s.get("endUserClientId") or "").lstrip("+") == customer]

    session = settle(waiting, what=f"a session for {customer}")[0]
    accepted = wired.sim.post(
        f"/__sim/console/api/orgs/{wired.org_id}/sessions/{session['id']}/accept", json={"agent": ada}
    )
    assert accepted.status_code == 200, accepted.text
    return session


def inbound(wired, customer: str, **content) -> None:
    response = wired.sim.post(
        "/__sim/infobip/inbound",
        json={
            "account": "demo-account-key",
            "channel": "WHATSAPP",
            "from": customer,
            "to": WHATSAPP,
            "name": "Frank",
            **content,
        },
    )
    assert response.status_code in (200, 201, 202), response.text


def title(text: str) -> dict:
    return {"itemType": "TitleItem", "title": text}


CHOICES = {
    "messageType": "ChoicesMessage",
    "choices": {
        "formatType": "Buttons",
        "text": "Was this helpful?",
        "optionItems": [
            {"itemType": "TitleOptionItem", "optionIdentifier": "yes", "titleItem": title("Yes")},
            {"itemType": "TitleOptionItem", "optionIdentifier": "no", "titleItem": title("No")},
        ],
    },
}


def drive_a_broad_conversation(wired) -> None:
    """Every kind of request the relay makes in a day, through the real worker and listener."""
    tenant = wired.tenant
    # A CCaaS org: the bot's transcript and the panel's template go through the Conversation History API.
    org = wired.sandbox.world.orgs.get(wired.org_id)
    wired.sandbox.call(lambda: setattr(org, "ccaas_enabled", True))
    # The channel's capabilities, registered as the wizard does (buttons go out only when registered).
    registration = capabilities.register(tenant.salesforce)
    assert registration.ok, registration.message
    whatsapp = Sender.objects.get(tenant=tenant, channel="whatsapp")
    # Routing attributes: the WhatsApp sender's rule names a queue (a REST query finds its id).
    [support] = SalesforceRest(tenant.salesforce).query(
        "SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = 'Support'"
    )
    RoutingRule.objects.filter(sender=whatsapp).update(
        target_type=RoutingRule.Target.QUEUE, target_id=support["Id"]
    )
    # The customers write: WhatsApp text, image, location and contact card; SMS; Viber.
    customer_writes(wired.sim, "Hello, my parcel has not arrived", customer=WHATSAPP_CUSTOMER)
    inbound(
        wired,
        WHATSAPP_CUSTOMER,
        media={
            "type": "IMAGE",
            "caption": "the damaged box",
            "content_b64": base64.b64encode(PNG).decode(),
            "content_type": "image/png",
            "filename": "box.png",
        },
    )
    inbound(wired, WHATSAPP_CUSTOMER, location={"latitude": 45.81, "longitude": 15.98, "name": "Depot"})
    inbound(wired, WHATSAPP_CUSTOMER, contacts=[{"name": "Frank Bipper", "phone": "+385918889999"}])
    customer_writes(wired.sim, "Hi over SMS", channel="SMS", sender=SMS, customer=SMS_CUSTOMER)
    customer_writes(wired.sim, "Hi over Viber", channel="VIBER", sender=VIBER, customer=VIBER_CUSTOMER)
    customer_writes(wired.sim, "Anyone there?", customer=LATE_CUSTOMER)
    # A bot hands a customer over with its transcript.
    endpoint, secret = HandoverEndpoint.issue(tenant)
    start = timezone.now() - timedelta(minutes=5)
    transcript = [
        {
            "id": f"bot-{index}",
            "speaker": "customer" if index % 2 == 0 else "bot",
            "text": f"{'Customer' if index % 2 == 0 else 'Bot'} line {index}",
            "time": (start + timedelta(seconds=20 * index)).isoformat().replace("+00:00", "Z"),
        }
        for index in range(4)
    ]
    handed_over = httpx.post(
        f"{wired.live_server.url}{endpoint.path}",
        json={"customer": f"+{HANDOVER_CUSTOMER}", "sender": f"+{WHATSAPP}", "transcript": transcript},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    assert handed_over.status_code == 202, handed_over.text

    # Ada answers: a text and buttons on WhatsApp, texts on SMS and Viber, one too late.
    ada = agent_id(wired.sim, wired.org_id)
    session = accept(wired, WHATSAPP_CUSTOMER, ada)
    text = agent_replies(wired, session, ada, text="Sorry to hear that, let me check")
    agent_replies(wired, session, ada, message=CHOICES)
    agent_replies(
        wired,
        session,
        ada,
        text="Here is your invoice",
        attachment={
            "name": "invoice.pdf",
            "mimeType": "application/pdf",
            "contentBase64": base64.b64encode(b"%PDF-1.4 invoice").decode(),
        },
    )
    agent_replies(wired, accept(wired, SMS_CUSTOMER, ada), ada, text="Answer over SMS")
    agent_replies(wired, accept(wired, VIBER_CUSTOMER, ada), ada, text="Answer over Viber")
    late = accept(wired, LATE_CUSTOMER, ada)
    Conversation.objects.filter(customer=f"+{LATE_CUSTOMER}").update(
        last_inbound_at=timezone.now() - timedelta(hours=25)
    )
    agent_replies(wired, late, ada, text="Sorry for the late answer")
    # A template from the panel (the templates list is synced from Infobip first).
    add_template(wired.sim)
    sync_sender(whatsapp)
    template = WhatsAppTemplate.objects.get(sender=whatsapp, name="delivery_update")
    sent = httpx.post(
        f"{wired.live_server.url}/console/templates/send/",
        data={
            "sender": whatsapp.pk,
            "customer": f"+{WHATSAPP_CUSTOMER}",
            "template": template.pk,
            "header_media_url": "https://cdn.example.com/parcel.jpg",
            "body_1": "Frank",
            "url_1": "10234",
            "reply_1": "call-me",
        },
        headers={"X-Console-Token": token(tenant, session["id"])},
        timeout=10,
    )
    assert sent.status_code == 200, sent.text

    # Everything arrived where it was going.
    def on_phone(customer: str, channel: str | None = None) -> list[str]:
        return [
            m["content"].get("text") or m["kind"]
            for m in phone_received(wired.sim, customer, channel=channel)
        ]

    template_row = settle(
        lambda: Message.objects.filter(kind="template").exclude(status="pending").first(),
        what="the template's send",
    )
    assert template_row.status != "failed", template_row.last_error
    settle(
        lambda: any(e.get("files") for e in customer_entries(wired, session["id"])),
        what="the customer's image in Salesforce",
    )
    settle(lambda: len(customer_entries(wired, session["id"])) >= 4, what="the four customer entries")
    for customer, channel, expected in [
        (
            WHATSAPP_CUSTOMER,
            None,
            {"Sorry to hear that, let me check", "INTERACTIVE_BUTTONS", "DOCUMENT", "TEMPLATE"},
        ),
        (SMS_CUSTOMER, "SMS", {"Answer over SMS"}),
        (VIBER_CUSTOMER, "VIBER", {"Answer over Viber"}),
    ]:
        settle(
            lambda c=customer, ch=channel, e=expected: e <= set(on_phone(c, ch)),
            what=f"{sorted(expected)} on {customer}'s phone",
        )

    def acknowledged():
        rows = wired.sim.get(f"/__sim/console/api/orgs/{wired.org_id}/acknowledgements").json()
        return {row["type"] for row in rows if row["acknowledgedEntryIdentifier"] == text["identifier"]}

    settle(lambda: {"Delivered", "Read"} <= acknowledged(), what="the delivered and read receipts")

    def failures():
        rows = wired.sim.get(f"/__sim/console/api/orgs/{wired.org_id}/delivery-failures").json()
        return [row for row in rows if row["errorCode"] == "OUTSIDE_24H_WINDOW"]

    settle(failures, what="MessageDeliveryFailed for the late answer")
    settle(
        lambda: Handover.objects.filter(status="delivered").exists(), what="the handover's transcript import"
    )


def set_up_as_the_wizard_does(tenant) -> None:
    """The setup wizard's traffic: the Tooling API channel setup (a second, new channel, so every piece is
    created), the Salesforce lists it offers, and the Infobip numbers behind the sender sync."""
    connection = tenant.salesforce
    done = channel_setup.ensure_channel(connection, "Switchboard_Fidelity", "Switchboard_Fidelity__e")
    assert done and all(item.created for item in done), done
    lists.forget(connection=connection, account=ProviderAccount.objects.get(tenant=tenant))
    for kind in lists.SALESFORCE_KINDS:
        fetched = lists.fetch_salesforce_list(connection, kind)
        assert not fetched.error and fetched.items, (kind, fetched.error)
    senders = lists.fetch_provider_senders(ProviderAccount.objects.get(tenant=tenant))
    assert not senders.error and senders.items, senders.error


def drive_a_cases_conversation(wired) -> None:
    """The Cases desk's REST traffic (relay/desks/cases*.py), the same tenant switched to the desk: a
    customer's text creates a Case (Contact looked up, then created), an image adds a ContentVersion, the
    transcript goes on as FeedItems, then as CaseComments for the agent's reply from the Case panel; the agent
    closes the Case (a change event) and the customer's next message reopens it."""
    settings = wired.sim.post(f"/__sim/orgs/{wired.org_id}/settings", json={"change_data_capture": ["Case"]})
    assert settings.status_code == 200, settings.text
    connection = SalesforceConnection.objects.get(tenant=wired.tenant)
    connection.desk = SalesforceConnection.Desk.CASES
    connection.case_create_contacts = True
    connection.case_reopen_hours = 24
    connection.case_transcript = "feed"
    connection.save()
    customer_writes(wired.sim, "My order 77 is missing", customer=CASES_CUSTOMER)
    inbound(
        wired,
        CASES_CUSTOMER,
        media={
            "type": "IMAGE",
            "content_b64": base64.b64encode(PNG).decode(),
            "content_type": "image/png",
            "filename": "order.png",
        },
    )
    settle(
        lambda: (
            CaseEntry.objects.filter(message__conversation__customer=f"+{CASES_CUSTOMER}")
            .exclude(written_at=None)
            .exclude(file_ids=[])
            .exists()
        ),
        what="the image and its ContentVersion on the Case",
    )
    link = CaseLink.objects.get(conversation__customer=f"+{CASES_CUSTOMER}")
    assert link.case_id and link.contact_id, (link.case_id, link.contact_id)
    SalesforceConnection.objects.filter(pk=connection.pk).update(case_transcript="comment")
    ada = agent_id(wired.sim, wired.org_id)
    reply = reply_from_panel(link.conversation, ada, "We are on it", user_name="Ada")
    settle(
        lambda: CaseEntry.objects.filter(message=reply).exclude(written_at=None).exists(),
        what="the agent's reply as a CaseComment",
    )
    settle(
        lambda: (
            "We are on it" in [m["content"].get("text") for m in phone_received(wired.sim, CASES_CUSTOMER)]
        ),
        what="the agent's reply on the customer's phone",
    )
    closed = wired.sim.post(
        f"/__sim/console/api/orgs/{wired.org_id}/cases/{link.case_id}",
        json={"agent": ada, "Status": "Closed"},
    )
    assert closed.status_code == 200, closed.text
    settle(lambda: CaseLink.objects.get(pk=link.pk).is_closed, what="the Case closed (its change event)")
    customer_writes(wired.sim, "One more thing", customer=CASES_CUSTOMER)
    settle(
        lambda: CaseEntry.objects.filter(message__text="One more thing").exclude(written_at=None).exists(),
        what="the reopened Case's new comment",
    )
    assert CaseLink.objects.filter(conversation=link.conversation).count() == 1
    assert not CaseLink.objects.get(pk=link.pk).is_closed


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [sys.executable, *args],
        cwd=FIDELITY,
        capture_output=True,
        text=True,
        timeout=120,
    )


def recorded(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []


def test_everything_the_relay_sends_conforms_to_the_vendors_specs(wired, listener, proxies, tmp_path):
    drive_a_broad_conversation(wired)
    set_up_as_the_wizard_does(wired.tenant)
    drive_a_cases_conversation(wired)
    for proxy in proxies.values():
        proxy.stop()  # every exchange is in its log

    logs = [str(proxy.log) for proxy in proxies.values() if proxy.log.exists()]
    result = run_tool("validate.py", "--strict-properties", *logs)
    # The Interaction events Salesforce (the sandbox) published for the agent's side, against the AsyncAPI
    # schemas: the relay's handling is only as good as the events it was driven by.
    topic = wired.tenant.salesforce.platform_event
    events = wired.sandbox.call(lambda: wired.sandbox.world.pubsub.events(wired.org_id, topic))
    events_log = tmp_path / "events.jsonl"
    events_log.write_text("".join(json.dumps(event, default=str) + "\n" for event in events))
    events_result = run_tool("validate_event.py", str(events_log))
    records = {name: recorded(proxy.log) for name, proxy in proxies.items()}
    counts = {name: len(rs) for name, rs in records.items()}
    print(f"recorded requests per log: {counts}\n{result.stdout}\n{events_result.stdout}")  # for the lead
    assert result.returncode == 0, f"nonconforming requests (validate.py):\n{result.stdout}\n{result.stderr}"
    assert len(events) >= 5  # text, buttons, document, SMS, Viber, the late answer
    assert events_result.returncode == 0, (
        f"nonconforming agent events (validate_event.py):\n{events_result.stdout}\n{events_result.stderr}"
    )

    # The conversation really went through the proxies, and the sandbox accepted every request (CCaaS
    # history included), so each path ran in full: the token mint, REST, the Interaction Service, Infobip.
    paths = {r["path"].split("?")[0] for rs in records.values() for r in rs}
    assert {
        "/services/oauth2/token",
        "/api/v1/interactions",
        "/api/v1/acknowledgement",
        "/api/v1/capabilities",
        "/api/v1/conversationHistory",
        "/whatsapp/1/message/text",
        "/whatsapp/1/message/interactive/buttons",
        "/whatsapp/1/message/document",
        "/whatsapp/1/message/template",
        "/sms/3/messages",
        "/viber/2/messages",
    } <= paths
    sobjects = {path.rsplit("/", 1)[-1] for path in paths if "/sobjects/" in path}
    assert {"Case", "Contact", "FeedItem", "CaseComment", "ContentVersion"} <= sobjects
    refused = [
        (r["method"], r["path"], r["status"])
        for rs in records.values()
        for r in rs
        if not 200 <= (r["status"] or 0) < 300
    ]
    assert refused == []
