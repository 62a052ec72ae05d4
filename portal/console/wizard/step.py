"""The contract of a wizard step (one module each in ``steps/``): its form, its view and its done rule.

A step's view answers a :class:`StepPage` (its template and context; ``views.step`` adds the wizard's frame:
the step list with each step's done state) or any response (a redirect to the next step)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import HttpResponse
from django.urls import reverse

from portal import livechecks

from ..session import ConsoleRequest
from .saved import Facts


@dataclass(frozen=True)
class StepPage:
    template: str
    context: dict
    status: int = 200


@dataclass(frozen=True)
class Step:
    slug: str  # its URL: /console/wizard/<slug>/
    title: str
    view: Callable[[ConsoleRequest], HttpResponse | StepPage] = field(repr=False)
    done: Callable[[Facts], tuple[bool, str]] = field(repr=False)  # (done, the note the step list shows)
    number: int = 0  # its place in the wizard, given by the registry (steps/__init__.py)


def wizard_url(request: ConsoleRequest, name: str, *args, **params) -> str:
    """A URL inside the wizard. It never carries the console token: the boosted request that follows it (a
    redirect included) sends the token in its X-Console-Token header (portal/console/session.py)."""
    query = urlencode(params)
    return f"{reverse(name, args=args)}?{query}" if query else reverse(name, args=args)


def step_url(request: ConsoleRequest, slug: str, **params) -> str:
    return wizard_url(request, "console:wizard-step", slug, **params)


def pending(tenant, kind: str) -> livechecks.Check | None:
    """The tenant's live check of this kind still queued or running, which the page then polls."""
    check = livechecks.latest(tenant, kind)
    return check if check is not None and check.pending else None
