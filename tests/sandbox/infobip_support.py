"""Helpers for the Infobip simulator tests: an account wired to the sandbox's own webhook sink,
polling for asynchronous effects, and checks against the vendor's OpenAPI files."""

from __future__ import annotations

import time
from pathlib import Path

from sandbox.openapi import load_spec

SPECS = Path(__file__).resolve().parents[2] / "sandbox" / "specs" / "infobip"
WA = "447860099299"
SMS = "447491163443"
VIBER = "AcmeViber"
CUSTOMER = "447700900123"
KEY = "test-api-key"
AUTH = {"Authorization": f"App {KEY}"}


def spec(name: str):
    return load_spec(str(SPECS / f"infobip-{name}-openapi.json"))


def sink_url(sandbox, name: str = "portal", status: int | None = None) -> str:
    url = f"{sandbox.base_url}/__sim/infobip/sink/{name}"
    return f"{url}?status={status}" if status else url


def create_account(
    sim, sandbox, *, key="acme", api_keys=None, webhook=None, settings=None, senders=None
) -> dict:
    body = {
        "key": key,
        "name": "Acme",
        "api_keys": api_keys if api_keys is not None else [KEY],
        "senders": senders
        or [
            {"address": WA, "channels": ["WHATSAPP"], "name": "Acme WhatsApp"},
            {"address": SMS, "channels": ["SMS"]},
            {"address": VIBER, "channels": ["VIBER"]},
        ],
        "webhook": webhook if webhook is not None else {"url": sink_url(sandbox)},
        "settings": {"dlr_delay": 0.01, "seen_delay": 0.01, "batch_window": 0.01, **(settings or {})},
    }
    response = sim.post("/__sim/infobip/accounts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def wait_for(fetch, predicate, timeout: float = 5.0):
    """Poll ``fetch()`` until ``predicate(value)`` holds; return the value (fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not predicate(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        time.sleep(0.02)
        value = fetch()
    return value


def sink_posts(sim, name: str = "portal") -> list[dict]:
    return sim.get(f"/__sim/infobip/sink/{name}").json()


def results_of(posts: list[dict]) -> list[dict]:
    return [result for post in posts for result in (post["body"] or {}).get("results", [])]


def wait_results(sim, predicate, name: str = "portal", timeout: float = 5.0) -> list[dict]:
    """Results received by the sink that satisfy ``predicate``, once at least one arrived."""
    posts = wait_for(
        lambda: sink_posts(sim, name), lambda p: any(predicate(r) for r in results_of(p)), timeout=timeout
    )
    return [r for r in results_of(posts) if predicate(r)]


def open_window(sim, customer: str = CUSTOMER, sender: str = WA, account: str = "acme"):
    response = sim.post(
        "/__sim/infobip/window",
        json={"account": account, "sender": sender, "customer": customer, "hours_ago": 1},
    )
    assert response.json()["open"] is True


def assert_valid_response(kind: str, method: str, path: str, response) -> None:
    """The simulator's answer conforms to the vendor file's schema for that status code."""
    operation = spec(kind).operation(method, path)
    assert operation is not None, f"{method} {path} not in the {kind} spec"
    violations = operation.validate_response(response.status_code, response.json())
    assert violations == [], [f"{v.dotted()}: {v.message}" for v in violations]


def assert_valid_webhook(kind: str, webhook: str, body: dict) -> None:
    document = spec(kind)
    pointer = document.webhook_schema_pointer(webhook)
    assert pointer, f"no webhook {webhook} in the {kind} spec"
    violations = document.validate(pointer, body)
    assert violations == [], [f"{v.dotted()}: {v.message}" for v in violations]
