"""Shared pieces of the Salesforce client and listener tests: a sandbox org wired to a Django tenant.

``salesforce_urls`` is where the tenant's connection points: the sandbox's ``/sim/core`` and
``/sim/scrt`` hosts, or, when ``FIDELITY_LOG_DIR`` is set, record proxies of the protocol-fidelity
checker in front of them (``FIDELITY_DIR``, ``FIDELITY_PYTHON``), so the traffic of these tests can be
validated with ``validate.py``. Tokens come from the core host (Salesforce serves the JWT bearer flow on
My Domain too), so they are recorded as well.
"""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx
import pytest
from django.core.cache import cache as django_cache

from relay.salesforce.auth import cache_key
from tenants.certificates import generate_key_pair
from tenants.models import SalesforceConnection, Tenant

ORG_ID = "00D8d000000SfCl"
OTHER_ORG_ID = "00D8d000000SfDx"
USERNAME = "integration@acme.test"
CCD = "Switchboard_Messaging"
EVENT = "Switchboard_Interaction__e"
WHATSAPP = "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a01"
CUSTOMER = "+447700900123"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@cache
def key_pair() -> tuple[str, str]:
    """One RSA key pair for the whole run (generating one takes a moment)."""
    return generate_key_pair("Switchboard tests")


def consumer_key(org_id: str) -> str:
    return f"3MVG9-{org_id}"


def org_spec(org_id: str, *, ccaas: bool = False) -> dict:
    return {
        "org_id": org_id,
        "name": f"Org {org_id}",
        "my_domain": org_id.lower(),
        "ccaas_enabled": ccaas,
        "users": [
            {"username": USERNAME, "name": "Switchboard Integration"},
            {"username": "ada@acme.test", "name": "Ada Agent", "agent": True, "online": True},
            {"username": "stranger@acme.test", "name": "Not Pre-Authorized"},
        ],
        "queues": [{"name": "Support", "developer_name": "Support"}],
        "connected_apps": [
            {
                "consumer_key": consumer_key(org_id),
                "consumer_secret": "canvas-secret",
                "certificate_pem": key_pair()[1],
                "preauthorized": [USERNAME],
            }
        ],
        "platform_events": [{"api_name": EVENT}, {"api_name": "Renamed_Event__e"}],
        "channel_definitions": [{"developer_name": CCD, "platform_event": EVENT}],
        "messaging_channels": [
            {
                "developer_name": "WhatsApp",
                "channel_address_identifier": WHATSAPP,
                "channel_definition": CCD,
                "queue": "Support",
            }
        ],
    }


@dataclass
class SalesforceUrls:
    core: str  # login and instance host
    scrt: str


class _Proxy:
    def __init__(self, fidelity_dir: Path, python: str, target: str, kind: str, log: Path) -> None:
        self.process = subprocess.Popen(
            [
                python,
                "record_proxy.py",
                "--listen",
                "127.0.0.1:0",
                "--target",
                target,
                "--kind",
                kind,
                "--log",
                str(log),
            ],
            cwd=fidelity_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        line = self.process.stdout.readline()  # "LISTENING host:port -> target"
        if not line.startswith("LISTENING"):
            self.process.kill()
            raise RuntimeError(f"record proxy did not start: {line!r}")
        self.url = "http://" + line.split()[1]
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def salesforce_urls(sandbox_server):
    log_dir = os.environ.get("FIDELITY_LOG_DIR")
    if not log_dir:
        yield SalesforceUrls(
            core=sandbox_server.world.config.url("core"), scrt=sandbox_server.world.config.url("scrt")
        )
        return
    fidelity_dir = Path(os.environ.get("FIDELITY_DIR", "/work/shared/tools/fidelity"))
    python = os.environ.get("FIDELITY_PYTHON", "/tmp/fid/bin/python")
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    core = _Proxy(
        fidelity_dir,
        python,
        sandbox_server.world.config.url("core"),
        "salesforce-core",
        Path(log_dir) / "core.jsonl",
    )
    scrt = _Proxy(
        fidelity_dir,
        python,
        sandbox_server.world.config.url("scrt"),
        "salesforce-scrt",
        Path(log_dir) / "scrt.jsonl",
    )
    yield SalesforceUrls(core=core.url, scrt=scrt.url)
    core.stop()
    scrt.stop()


def create_sandbox_org(sim: httpx.Client, org_id: str = ORG_ID, **spec) -> str:
    response = sim.post("/__sim/orgs", json=org_spec(org_id, **spec))
    assert response.status_code == 201, response.text
    return response.json()["org_id"]


def make_connected_tenant(
    urls: SalesforceUrls, org_id: str = ORG_ID, *, slug: str | None = None, **connection_fields
) -> Tenant:
    """A Django tenant whose Salesforce connection points at the sandbox org ``org_id``."""
    slug = slug or f"t-{org_id.lower()}"
    tenant = Tenant.objects.create(name=slug, slug=slug, org_id=org_id)
    private_key, certificate = key_pair()
    fields = {
        "login_url": urls.core,
        "instance_url": urls.core,
        "scrt_url": urls.scrt,
        "consumer_key": consumer_key(org_id),
        "integration_username": USERNAME,
        "private_key": private_key,
        "certificate": certificate,
        "authorization_context": CCD,
        "platform_event": EVENT,
    }
    fields.update(connection_fields)
    connection = SalesforceConnection.objects.create(tenant=tenant, **fields)
    # The cache outlives test runs (file cache): a token of an earlier sandbox would be stale.
    django_cache.delete(cache_key(connection))
    return Tenant.objects.select_related("salesforce").get(pk=tenant.pk)


def tokens(sim: httpx.Client, org_id: str = ORG_ID) -> list[dict]:
    """The tokens the sandbox org has issued (one per JWT bearer exchange)."""
    response = sim.get(f"/__sim/orgs/{org_id}/tokens")
    assert response.status_code == 200, response.text
    return response.json()


def console(sim: httpx.Client, org_id: str, path: str):
    response = sim.get(f"/__sim/console/api/orgs/{org_id}{path}")
    assert response.status_code == 200, response.text
    return response.json()


def new_id() -> str:
    return str(uuid.uuid4())
