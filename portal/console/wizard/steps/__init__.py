"""The wizard's steps in order, one module each (its form, its view and its done rule, see ``../step.py``).

A new step is a module here with a ``STEP`` and its place in ``ORDER``; its template goes in
``templates/console/wizard/``."""

from __future__ import annotations

from dataclasses import dataclass, replace

from tenants.models import Tenant

from ...models import SetupProgress
from ..saved import Facts
from ..step import Step
from . import channel, provider, routing, salesforce, senders, summary

ORDER = (salesforce, channel, provider, senders, routing, summary)
STEPS: tuple[Step, ...] = tuple(replace(module.STEP, number=n) for n, module in enumerate(ORDER, start=1))
BY_SLUG = {step.slug: step for step in STEPS}


@dataclass(frozen=True)
class StepState:
    step: Step
    done: bool
    note: str

    @property
    def slug(self) -> str:
        return self.step.slug


def states(tenant: Tenant, progress: SetupProgress) -> list[StepState]:
    """Whether each step is done, read from the saved configuration."""
    facts = Facts.read(tenant, progress)
    return [StepState(step, *step.done(facts)) for step in STEPS]


def first_open(step_states: list[StepState]) -> Step:
    return next((state.step for state in step_states if not state.done), STEPS[-1])
