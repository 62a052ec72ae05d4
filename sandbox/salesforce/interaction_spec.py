"""Salesforce's Interaction Service OpenAPI/AsyncAPI files as validators.

The vendor files are OpenAPI 3.0, not plain JSON Schema, so the validator adds what they rely on:
``discriminator`` dispatch to the subtype named by the discriminating property (explicit ``mapping``
or the schema of the same name), ``nullable``, ``oneOf`` read as ``anyOf`` (overlapping branches) and
the non-standard type names ``int``/``float``/``double``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from jsonschema import validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_DIR = Path(__file__).resolve().parent.parent / "specs" / "salesforce"
INBOUND = "inbound-interaction-api.yaml"
OUTBOUND = "outbound-custom-event-payload.yaml"


def _discriminated_target(validator, disc, instance) -> str | None:
    if not isinstance(instance, dict) or not isinstance(disc, dict):
        return None
    value = instance.get(disc.get("propertyName"))
    if not isinstance(value, str):
        return None
    target = (disc.get("mapping") or {}).get(value)
    if target is None:
        try:
            validator._resolver.lookup(f"#/components/schemas/{value}")
            target = f"#/components/schemas/{value}"
        except Exception:  # noqa: BLE001 - no schema of that name: nothing more to check
            return None
    return target


# (id(instance), ref) pairs being evaluated: a subtype's allOf points back at its discriminated
# base, which would dispatch to the subtype again; re-entering adds nothing.
_ACTIVE: set[tuple[int, str]] = set()


def _ref(validator, ref, instance, schema):
    key = (id(instance), ref)
    if key in _ACTIVE:
        return
    _ACTIVE.add(key)
    try:
        errors = list(validator._validate_reference(ref=ref, instance=instance))
    finally:
        _ACTIVE.discard(key)
    yield from errors


def _discriminator(validator, disc, instance, schema):
    target = _discriminated_target(validator, disc, instance)
    if target is not None:
        yield from validator.descend(instance, {"$ref": target})


def _nullable(original):
    def keyword(validator, value, instance, schema):
        if instance is None and schema.get("nullable") is True:
            return
        yield from original(validator, value, instance, schema)

    return keyword


def _any_of(validator, value, instance, schema):
    if "discriminator" in schema and _discriminated_target(validator, schema["discriminator"], instance):
        return
    yield from validators.Draft4Validator.VALIDATORS["anyOf"](validator, value, instance, schema)


def _is_integer(checker, instance):
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_number(checker, instance):
    return isinstance(instance, (int, float)) and not isinstance(instance, bool)


_Validator = validators.extend(
    validators.Draft4Validator,
    {
        "$ref": _ref,
        "discriminator": _discriminator,
        "oneOf": _any_of,
        "anyOf": _any_of,
        "type": _nullable(validators.Draft4Validator.VALIDATORS["type"]),
        "enum": _nullable(validators.Draft4Validator.VALIDATORS["enum"]),
    },
    type_checker=validators.Draft4Validator.TYPE_CHECKER.redefine_many(
        {"int": _is_integer, "float": _is_number, "double": _is_number}
    ),
)


@cache
def _registry(name: str) -> tuple[str, Registry]:
    doc = yaml.safe_load((SPEC_DIR / name).read_text(encoding="utf-8"))
    uri = f"urn:sandbox:{name}"
    return uri, Registry().with_resource(uri, Resource.from_contents(doc, default_specification=DRAFT4))


def schema_error(schema_name: str, instance, *, spec: str = INBOUND) -> str | None:
    """The most relevant validation problem of ``instance`` against a component schema, or None."""
    uri, registry = _registry(spec)
    validator = _Validator({"$ref": f"{uri}#/components/schemas/{schema_name}"}, registry=registry)
    errors: list[ValidationError] = list(validator.iter_errors(instance))
    if not errors:
        return None
    error = best_match(errors)
    return f"{error.json_path}: {error.message}"
