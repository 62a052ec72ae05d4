"""Salesforce's Interaction Service OpenAPI/AsyncAPI files as validators (through ``sandbox.openapi``,
which knows the OpenAPI dialect the files rely on: discriminators, nullable, overlapping oneOf, and
Salesforce's type names int/float/double)."""

from __future__ import annotations

from pathlib import Path

from ..openapi import load_spec

SPEC_DIR = Path(__file__).resolve().parent.parent / "specs" / "salesforce"
INBOUND = "inbound-interaction-api.yaml"
OUTBOUND = "outbound-custom-event-payload.yaml"


def schema_error(schema_name: str, instance, *, spec: str = INBOUND) -> str | None:
    """The first validation problem of ``instance`` against a component schema, or None."""
    violations = load_spec(str(SPEC_DIR / spec)).validate(f"#/components/schemas/{schema_name}", instance)
    if not violations:
        return None
    first = violations[0]
    return f"$.{first.dotted()}: {first.message}" if first.path else f"$: {first.message}"
