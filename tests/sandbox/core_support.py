"""Helpers for the login/core REST/Canvas tests: an org with an uploaded certificate, JWTs, the contract.

The contract is ``sandbox/specs/salesforce/salesforce-core.yaml`` (a minimal OpenAPI of the endpoints
the relay calls); :func:`assert_conforms` checks a response against the schema of its status.
"""

from __future__ import annotations

import datetime
import functools
import time
from pathlib import Path

import jsonschema
import jwt
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ORG_ID = "00D8d000000CoRE"
OTHER_ORG_ID = "00D8d000000OthR"
SANDBOX_ORG_ID = "00D8d000000SbxO"
CONSUMER_KEY = "3MVG9coreTestConsumerKey"
CONSUMER_SECRET = "core-test-consumer-secret"
INTEGRATION = "integration@acme.test"
AGENT = "ada@acme.test"
UNAPPROVED = "mallory@acme.test"
INACTIVE = "retired@acme.test"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUD = "https://login.salesforce.com"
V = "/sim/core/services/data/v62.0"
SPEC_PATH = Path(__file__).resolve().parents[2] / "sandbox" / "specs" / "salesforce" / "salesforce-core.yaml"


@functools.cache
def keypair(name: str = "main") -> tuple[rsa.RSAPrivateKey, str]:
    """An RSA key and a self-signed X.509 certificate (PEM) for it, as an admin would upload."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"switchboard-{name}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


def assertion(
    *,
    iss: str = CONSUMER_KEY,
    sub: str = INTEGRATION,
    aud: str | list = LOGIN_AUD,
    exp_in: float = 180,
    key: rsa.RSAPrivateKey | None = None,
    algorithm: str = "RS256",
    **claims,
) -> str:
    payload = {"iss": iss, "sub": sub, "aud": aud, "exp": int(time.time() + exp_in), **claims}
    signing_key = key if key is not None else keypair()[0]
    if algorithm == "HS256":
        signing_key = "a shared secret instead of the certificate key"
    return jwt.encode(payload, signing_key, algorithm=algorithm)


def org_spec(org_id: str = ORG_ID, **extra) -> dict:
    return {
        "org_id": org_id,
        "name": "Acme Support",
        "my_domain": "acme",
        "users": [
            {"username": INTEGRATION, "name": "Switchboard Integration"},
            {"username": AGENT, "name": "Ada Lovelace", "email": "ada@acme.test", "agent": True, "online": True},
            {"username": UNAPPROVED, "name": "Mallory Unapproved"},
            {"username": INACTIVE, "name": "Retired User", "active": False},
        ],
        "queues": [{"name": "Support", "developer_name": "Support"}, {"name": "Sales", "developer_name": "Sales"}],
        "flows": [{"api_name": "Route_Messaging", "label": "Route messaging"}],
        "connected_apps": [
            {
                "consumer_key": CONSUMER_KEY if org_id == ORG_ID else f"{CONSUMER_KEY}-{org_id}",
                "consumer_secret": CONSUMER_SECRET,
                "preauthorized": [INTEGRATION, AGENT, INACTIVE],
                "canvas_url": "",
            }
        ],
        "platform_events": [{"api_name": "Switchboard_Interaction__e"}],
        "channel_definitions": [{"developer_name": "Switchboard_Messaging", "platform_event": "Switchboard_Interaction__e"}],
        "messaging_channels": [
            {"developer_name": "Acme_WhatsApp", "channel_address_identifier": "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a01",
             "channel_definition": "Switchboard_Messaging", "queue": "Support"},
            {"developer_name": "Acme_SMS", "channel_address_identifier": "6f1c1c2e-8a55-4d0c-9f4e-0a9f0c5b7a02",
             "channel_definition": "Switchboard_Messaging", "queue": "Sales", "active": False},
        ],
        **extra,
    }  # fmt: skip


def create_org(sim, org_id: str = ORG_ID, *, upload_cert: bool = True, **extra) -> str:
    created = sim.post("/__sim/orgs", json=org_spec(org_id, **extra))
    assert created.status_code == 201, created.text
    org18 = created.json()["org_id"]
    if upload_cert:
        key = CONSUMER_KEY if org_id == ORG_ID else f"{CONSUMER_KEY}-{org_id}"
        uploaded = sim.post(
            f"/__sim/orgs/{org18}/connected-apps/{key}/certificate", json={"certificate_pem": keypair()[1]}
        )
        assert uploaded.status_code == 200, uploaded.text
    return org18


def token_request(sim, jwt_assertion: str, host: str = "login"):
    return sim.post(
        f"/sim/{host}/services/oauth2/token", data={"grant_type": JWT_BEARER, "assertion": jwt_assertion}
    )


def mint_token(sim, **claims) -> str:
    response = token_request(sim, assertion(**claims))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def core_org(sim) -> str:
    """An org with the certificate uploaded; returns its 18-character id."""
    return create_org(sim)


@pytest.fixture
def api(sim, core_org):
    """An httpx client on the core host's REST API with a JWT-minted integration token."""
    sim.headers.update(auth(mint_token(sim)))
    return sim


# --- contract ----------------------------------------------------------------------------------


@functools.cache
def _spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def _resolve(node, spec):
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _resolve(target, spec)
        return {k: _resolve(v, spec) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, spec) for v in node]
    return node


def response_schema(operation_id: str, status: int) -> dict | None:
    spec = _spec()
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or operation.get("operationId") != operation_id:
                continue
            responses = operation["responses"]
            chosen = responses.get(str(status)) or responses.get("default")
            assert chosen is not None, f"{operation_id} documents no {status} response"
            chosen = _resolve(chosen, spec)
            content = chosen.get("content", {}).get("application/json")
            return content["schema"] if content else None
    raise AssertionError(f"no operation {operation_id} in the spec")


def assert_conforms(response, operation_id: str) -> None:
    """The response's JSON body matches the contract's schema for its status."""
    schema = response_schema(operation_id, response.status_code)
    if schema is None:
        assert not response.content, f"{operation_id} {response.status_code} should have no body"
        return
    jsonschema.validate(response.json(), schema)
