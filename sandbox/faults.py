"""Fault switches: make any simulated endpoint fail, slow down or disappear on demand.

A rule matches a service (``login``, ``core``, ``scrt``, ``livechat``, ``infobip``, ``pubsub``) and
optionally a path regex. Rules are set through ``/__sim/faults`` and apply to the HTTP services via
:class:`FaultMiddleware` and to gRPC via :meth:`FaultBoard.decide`.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from dataclasses import asdict, dataclass, field

SERVICES = ("login", "core", "scrt", "livechat", "infobip", "pubsub")


@dataclass
class FaultRule:
    service: str
    path: str = ""  # regex searched in the path below the service prefix; empty matches all
    status: int = 503  # what a failing request answers (429, 500, 503, ...)
    error_rate: float = 1.0  # share of matching requests that fail, 0..1
    latency_ms: int = 0  # added to every matching request, failing or not
    outage: bool = False  # every matching request fails, regardless of error_rate
    retry_after: int | None = None  # seconds, sent with 429/503
    # The latency holds the answer instead of the request: the call takes effect, the caller hears late.
    delay_response: bool = False
    # The Interaction Service error code a failing ``scrt`` request carries (ERRORCODES.md), e.g. 10019 or
    # 10095; None keeps the default (10056 for 5xx, 429 otherwise).
    code: int | None = None
    times: int | None = None  # fail only this many more matching requests; None: no limit
    id: int = field(default=0)

    def matches(self, service: str, path: str) -> bool:
        return self.service == service and (not self.path or re.search(self.path, path) is not None)


@dataclass
class Decision:
    latency_ms: int = 0
    fail_status: int | None = None
    retry_after: int | None = None
    delay_response: bool = False
    code: int | None = None


class FaultBoard:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._next_id = 1
        self.random = random.Random()
        self.delayed: dict[str, int] = {}  # requests held by an added latency right now, per service

    def add(self, **spec) -> FaultRule:
        if spec.get("service") not in SERVICES:
            raise ValueError(f"service must be one of {', '.join(SERVICES)}")
        rule = FaultRule(**spec)
        if not 0.0 <= rule.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if rule.times is not None and (not isinstance(rule.times, int) or rule.times < 1):
            raise ValueError("times must be a whole number from 1")
        if rule.code is not None and not isinstance(rule.code, int):
            raise ValueError("code must be a whole number")
        re.compile(rule.path)
        rule.id = self._next_id
        self._next_id += 1
        self._rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        before = len(self._rules)
        self._rules = [r for r in self._rules if r.id != rule_id]
        return len(self._rules) != before

    def clear(self) -> None:
        # ``delayed`` is left alone: a request held right now is still held, and its hold counts itself
        # out when it ends (clearing the counts under it crashed that hold and lost the held answer).
        self._rules.clear()

    def list(self) -> list[dict]:
        return [asdict(r) for r in self._rules]

    def decide(self, service: str, path: str) -> Decision:
        decision = Decision()
        for rule in self._rules:
            if not rule.matches(service, path):
                continue
            decision.latency_ms += rule.latency_ms
            decision.delay_response = decision.delay_response or rule.delay_response
            if rule.times is not None and rule.times <= 0:
                continue  # spent
            failing = rule.outage or (rule.error_rate > 0 and self.random.random() < rule.error_rate)
            if failing and decision.fail_status is None and (rule.outage or rule.status):
                decision.fail_status = rule.status
                decision.retry_after = rule.retry_after
                decision.code = rule.code
                if rule.times is not None:
                    rule.times -= 1
        return decision


def _fault_body(service: str, status: int, code: int | None = None) -> tuple[bytes, str]:
    """An error body in the shape the real service uses for that status."""
    if service == "infobip":
        names = {
            429: ("TOO_MANY_REQUESTS", "Too many requests"),
            500: ("GENERAL_ERROR", "Something went wrong"),
        }
        message_id, text = names.get(status, ("GENERAL_ERROR", "Service unavailable"))
        body = {"requestError": {"serviceException": {"messageId": message_id, "text": text}}}
    elif service == "scrt":
        if code is None:
            body = {"message": "Service unavailable, retry later.", "code": 10056 if status >= 500 else 429}
        else:
            body = {"message": f"Simulated error {code}.", "code": code}
    elif service in ("core", "login"):
        body = [{"message": "Server is temporarily unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
        if status == 429:
            body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    else:
        body = {"error": "simulated fault", "status": status}
    return json.dumps(body).encode(), "application/json"


class FaultMiddleware:
    """ASGI middleware applying the board's rules to ``/sim/<service>/...`` requests."""

    def __init__(self, app, board: FaultBoard) -> None:
        self.app = app
        self.board = board

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/sim/"):
            return await self.app(scope, receive, send)
        _, _, rest = scope["path"].partition("/sim/")
        service, _, sub = rest.partition("/")
        decision = self.board.decide(service, "/" + sub)
        if decision.latency_ms and decision.delay_response and decision.fail_status is None:
            return await self._answer_late(scope, receive, send, service, decision.latency_ms)
        if decision.latency_ms:
            await self._hold(service, decision.latency_ms)
        if decision.fail_status is None:
            return await self.app(scope, receive, send)
        await self._fail(send, service, decision)

    async def _answer_late(self, scope, receive, send, service: str, latency_ms: int) -> None:
        held = []

        async def hold(message):
            held.append(message)

        await self.app(scope, receive, hold)
        await self._hold(service, latency_ms)
        for message in held:
            await send(message)

    async def _hold(self, service: str, latency_ms: int) -> None:
        # Counted so a test can act while a call is held (e.g. kill the caller mid-call).
        delayed = self.board.delayed
        delayed[service] = delayed.get(service, 0) + 1
        try:
            await asyncio.sleep(latency_ms / 1000)
        finally:
            delayed[service] = max(delayed.get(service, 0) - 1, 0)

    async def _fail(self, send, service: str, decision: Decision) -> None:
        body, content_type = _fault_body(service, decision.fail_status, decision.code)
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        if decision.retry_after is not None:
            headers.append((b"retry-after", str(decision.retry_after).encode()))
        await send({"type": "http.response.start", "status": decision.fail_status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
