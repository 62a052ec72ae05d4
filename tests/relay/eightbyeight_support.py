"""An 8x8 account in the sandbox's simulator and the same account in Django, reached through the fidelity
checker's recording proxy (``shared/tools/fidelity``, kind ``8x8``) so every request can be validated
against 8x8's OpenAPI file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from tests.factories import make_account, make_sender, make_tenant

FIDELITY = Path(__file__).resolve().parents[3] / "shared" / "tools" / "fidelity"
ACCOUNT_ID = "0f1d2c3b-4a59-4687-a7b8-c9d0e1f2a3b4"
SUB = "Acme_ChatApps"
KEY = "eight-relay-key"
WA, VIBER, SMS = (
    "ec36a867-3dd4-e911-814a-02d85f55fce8",
    "5d0c7a1e-8b3f-4d2a-9e61-2f4b8c1d7a90",
    "b2f1e4c3-6a7d-4e8f-9a0b-1c2d3e4f5a6b",
)
CUSTOMER = "+447400123456"
TEMPLATES = [
    {
        "channelId": WA,
        "channelName": "Acme WhatsApp",
        "templateName": "order_ready",
        "language": "en_US",
        "components": [
            {"type": "HEADER", "format": "Image"},
            {
                "type": "BODY",
                "text": "Hello {{1}}, order {{2}} is ready",
                "example": {"bodyText": ["Ana", "42"]},
            },
            {"type": "FOOTER", "text": "Acme"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "URL", "text": "Track", "url": "https://acme.example/track/{{1}}"},
                    {"type": "QUICK_REPLY", "text": "Thanks"},
                ],
            },
        ],
        "category": "UTILITY",
        "status": "APPROVED",
    }
]


class RecordingProxy:
    """``record_proxy.py`` in front of ``target``; ``url`` is where clients go, ``log`` what it wrote."""

    def __init__(self, target: str, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(  # noqa: S603 - the shared tool, fixed arguments
            [
                sys.executable,
                str(FIDELITY / "record_proxy.py"),
                "--listen",
                "127.0.0.1:0",
                "--target",
                target,
                "--kind",
                "8x8",
                "--log",
                str(log),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        assert line.startswith("LISTENING "), line
        self.url = "http://" + line.split()[1]

    def validate(self) -> subprocess.CompletedProcess:
        """validate.py on the log, undeclared members failing too (``--strict-properties``)."""
        return subprocess.run(  # noqa: S603
            [sys.executable, str(FIDELITY / "validate.py"), "--strict-properties", "-v", str(self.log)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def simulator_account(sim, webhook_url: str = "", authorization: str = "") -> None:
    spec = {
        "account_id": ACCOUNT_ID,
        "api_key": KEY,
        "sub_accounts": [
            {
                "id": SUB,
                "channels": [
                    {"id": WA, "channel": "whatsapp", "name": "Acme WhatsApp", "address": "+447860099299"},
                    {"id": VIBER, "channel": "viber", "name": "Acme Viber", "address": "AcmeViber"},
                    {"id": SMS, "channel": "sms", "name": "Acme SMS", "address": "+447491163443"},
                ],
            }
        ],
        "templates": {WA: TEMPLATES},
        "webhooks": (
            [{"subAccountId": SUB, "url": webhook_url, "httpAuthorization": authorization}]
            if webhook_url
            else []
        ),
    }
    response = sim.post("/__sim/8x8/accounts", json=spec)
    assert response.status_code == 201, response.text


def django_account(base_url: str, tenant=None, **extra) -> SimpleNamespace:
    fields = {
        "name": "Acme 8x8",
        "provider": "8x8",
        "base_url": base_url,
        "api_key": KEY,
        "subaccount_id": SUB,
        "provider_account_id": ACCOUNT_ID,
        "webhook_auth": "basic",
        **extra,
    }
    account = make_account(tenant or make_tenant(), **fields)
    return SimpleNamespace(
        account=account,
        whatsapp=make_sender(account, WA, "whatsapp", display_name="Acme WhatsApp"),
        viber=make_sender(account, VIBER, "viber", display_name="Acme Viber"),
        sms=make_sender(account, SMS, "sms", display_name="Acme SMS"),
    )
