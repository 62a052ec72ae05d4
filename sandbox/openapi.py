"""A small, generic OpenAPI request validator for the simulators.

Load a vendor's OpenAPI document, find the operation a request hits (method + path template,
literal segments winning over ``{params}``), and validate its JSON body and its query/path
parameters with ``jsonschema``, ``$ref``s resolved inside the document. Violations come back as
structured :class:`Violation` objects; each simulator turns them into its vendor's error envelope
(Infobip's ``validationErrors`` map or E400 ``violations``, Salesforce's error list, ...).

OpenAPI schemas are not plain JSON Schema; what the vendor files rely on is added here:

* ``discriminator``: a value checked against an abstract base is also checked against the
  subtype its discriminator names (explicit ``mapping`` or the schema of the same name), and
  the base's ``oneOf``/``anyOf`` is then skipped;
* ``oneOf`` is read as ``anyOf`` (vendor ``oneOf`` branches overlap and the vendors accept them);
* ``nullable`` (OpenAPI 3.0), and cyclic ``allOf``-back-to-the-base polymorphism (cut);
* formats ``int32``, ``int64``, ``date-time`` (also the ``+0000`` offset Infobip uses).

3.0 documents are validated with draft 4 rules, 3.1 documents with 2020-12.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from jsonschema import FormatChecker, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DATE_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:?\d\d)$")

# --- schema dialect ----------------------------------------------------------------------

# (id(instance), ref) pairs being evaluated: vendor schemas are cyclic (a subtype allOf's its base,
# whose discriminator dispatches back to the subtype); re-entering adds nothing, so it is cut.
_ACTIVE_REFS: list[tuple[int, str]] = []


def _ref(validator, ref, instance, schema):
    key = (id(instance), ref)
    if key in _ACTIVE_REFS:
        return
    _ACTIVE_REFS.append(key)
    try:
        errors = list(validator._validate_reference(ref=ref, instance=instance))
    finally:
        _ACTIVE_REFS.pop()
    yield from errors


def _discriminator_target(validator, disc, instance) -> str | None:
    if not isinstance(instance, dict) or not isinstance(disc, dict):
        return None
    value = instance.get(disc.get("propertyName"))
    if not isinstance(value, str):
        return None
    target = (disc.get("mapping") or {}).get(value)
    if target is None:
        implicit = f"#/components/schemas/{value}"
        try:
            validator._resolver.lookup(implicit)
        except Exception:  # noqa: BLE001 - no schema of that name
            return None
        target = implicit
    return target


def _discriminator(validator, disc, instance, schema):
    if not isinstance(instance, dict) or not isinstance(disc, dict):
        return
    value = instance.get(disc.get("propertyName"))
    if not isinstance(value, str):
        return  # a missing or odd property is reported by required/type
    target = _discriminator_target(validator, disc, instance)
    if target is None:
        mapping = disc.get("mapping") or {}
        if mapping and not ("oneOf" in schema or "anyOf" in schema):
            error = ValidationError(
                f"{value!r} is not one of {sorted(mapping)}",
                validator="enum",
                validator_value=sorted(mapping),
            )
            error.path.append(disc["propertyName"])
            yield error
        return
    yield from validator.descend(instance, {"$ref": target})


def _unless_discriminated(original):
    def keyword(validator, value, instance, schema):
        if "discriminator" in schema and _discriminator_target(validator, schema["discriminator"], instance):
            return
        yield from original(validator, value, instance, schema)

    return keyword


def _nullable(original):
    def keyword(validator, value, instance, schema):
        if instance is None and schema.get("nullable") is True:
            return
        yield from original(validator, value, instance, schema)

    return keyword


def _is_integer(checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_number(checker, instance) -> bool:
    return isinstance(instance, int | float) and not isinstance(instance, bool)


# Salesforce's files use the type names int, float and double.
_SALESFORCE_TYPES = {"int": _is_integer, "float": _is_number, "double": _is_number}


def _validator_class(base, oas30: bool):
    any_of = _unless_discriminated(base.VALIDATORS["anyOf"])
    keywords = {"$ref": _ref, "discriminator": _discriminator, "oneOf": any_of, "anyOf": any_of}
    if oas30:
        keywords["type"] = _nullable(base.VALIDATORS["type"])
        keywords["enum"] = _nullable(base.VALIDATORS["enum"])
    return validators.extend(base, keywords, type_checker=base.TYPE_CHECKER.redefine_many(_SALESFORCE_TYPES))


OAS30Validator = _validator_class(validators.Draft4Validator, oas30=True)
OAS31Validator = _validator_class(validators.Draft202012Validator, oas30=False)
FORMATS = FormatChecker(formats=())


@FORMATS.checks("int32")
def _int32(value):
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@FORMATS.checks("int64")
def _int64(value):
    return not isinstance(value, int) or -(2**63) <= value < 2**63


@FORMATS.checks("date-time")
def _date_time(value):
    return not isinstance(value, str) or bool(DATE_TIME_RE.match(value))


# --- results -----------------------------------------------------------------------------


@dataclass
class Violation:
    """One schema violation. ``path`` leads to the offending member (for a missing required
    member, to the member itself); ``keyword`` is the JSON Schema keyword that failed."""

    path: tuple
    keyword: str
    message: str
    limit: Any = None  # the keyword's value (maxLength's number, the enum's list, ...)
    value: Any = None  # the offending value (None when missing)
    schema: dict = field(default_factory=dict)  # the (sub)schema whose keyword failed

    def dotted(self, root: str = "") -> str:
        """``messages[0].content.text`` style path (Infobip, Java bean validation)."""
        out = root
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out


def _violations(errors) -> list[Violation]:
    out = []
    for error in errors:
        if error.validator in ("anyOf", "oneOf") and error.context:
            # report the branch that came closest (fewest errors, then deepest), not "valid under none"
            branches: dict = {}
            for sub in error.context:
                branches.setdefault(sub.relative_schema_path[0], []).append(sub)
            closest = min(
                branches.values(), key=lambda errs: (len(errs), -max(len(e.absolute_path) for e in errs))
            )
            out.extend(_violations(closest))
            continue
        path = tuple(error.absolute_path)
        value = error.instance
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [name for name in error.validator_value if name not in error.instance]
            for name in missing or [None]:
                out.append(
                    Violation(
                        path + ((name,) if name else ()), "required", error.message, None, None, error.schema
                    )
                )
            continue
        out.append(
            Violation(path, str(error.validator), error.message, error.validator_value, value, error.schema)
        )
    # one entry per (path, keyword), in document order of paths
    seen, unique = set(), []
    for v in out:
        key = (tuple(str(p) for p in v.path), v.keyword)
        if key not in seen:
            seen.add(key)
            unique.append(v)
    return unique


# --- documents ---------------------------------------------------------------------------


@dataclass
class Operation:
    spec: OpenApiSpec
    method: str
    template: str
    node: dict
    path_params: dict[str, str]

    @property
    def operation_id(self) -> str | None:
        return self.node.get("operationId")

    def parameters(self) -> list[dict]:
        path_item = self.spec.doc["paths"][self.template]
        params = {}
        for raw in [*(path_item.get("parameters") or []), *(self.node.get("parameters") or [])]:
            param = self.spec.resolve(raw)
            params[(param["name"], param["in"])] = param
        return list(params.values())

    def body_schema_pointer(self, content_type: str = "application/json") -> str | None:
        body = self.node.get("requestBody")
        if not body:
            return None
        content = self.spec.resolve(body).get("content") or {}
        media = content.get(content_type) or next(iter(content.values()), None)
        if not media or "schema" not in media:
            return None
        schema = media["schema"]
        return schema["$ref"] if "$ref" in schema else self.spec.inline_pointer(schema)

    def validate_body(self, body: Any, content_type: str = "application/json") -> list[Violation]:
        pointer = self.body_schema_pointer(content_type)
        return [] if pointer is None else self.spec.validate(pointer, body)

    def validate_params(self, query: dict[str, list[str]], location: str = "query") -> list[Violation]:
        """Declared parameters of ``location`` (``query``/``path``/``header``): required ones present,
        values (read as the declared type) valid. Undeclared parameters are ignored, as servers do."""
        values = self.path_params if location == "path" else query
        out: list[Violation] = []
        for param in self.parameters():
            if param["in"] != location:
                continue
            name, schema = param["name"], self.spec.resolve(param.get("schema") or {})
            raw = values.get(name)
            raw_list = raw if isinstance(raw, list) else ([raw] if raw is not None else [])
            if not raw_list:
                if param.get("required"):
                    out.append(Violation((name,), "required", f"{name!r} is a required parameter"))
                continue
            value = _coerce(schema, raw_list)
            for v in self.spec.validate_schema(schema, value):
                v.path = (name,)  # a parameter is reported by its name, whatever item failed
                out.append(v)
        return out

    def response_schema_pointer(
        self, status: int | str, content_type: str = "application/json"
    ) -> str | None:
        responses = self.node.get("responses") or {}
        response = (
            responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        )
        if response is None:
            return None
        media = (self.spec.resolve(response).get("content") or {}).get(content_type)
        if not media or "schema" not in media:
            return None
        return media["schema"].get("$ref") or self.spec.inline_pointer(media["schema"])

    def validate_response(self, status: int, body: Any) -> list[Violation]:
        pointer = self.response_schema_pointer(status)
        return [] if pointer is None else self.spec.validate(pointer, body)


def _coerce(schema: dict, raw: list[str]):
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items") or {}
        return [_coerce(items, [r]) for r in raw]
    text = raw[-1]
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        return text
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


class OpenApiSpec:
    """One vendor OpenAPI document (JSON or YAML)."""

    def __init__(self, doc: dict, name: str = "spec") -> None:
        self.doc = doc
        self.name = name
        self.oas30 = str(doc.get("openapi", "3.0")).startswith("3.0")
        self.uri = f"urn:sandbox-openapi:{name}"
        self._inline: dict[int, str] = {}
        self._register()
        self._templates = self._compile_paths()

    @classmethod
    def from_file(cls, path: str | Path) -> OpenApiSpec:
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
        return cls(_stringify_keys(doc), path.name)

    def _register(self) -> None:
        dialect = DRAFT4 if self.oas30 else DRAFT202012
        self.registry = Registry().with_resource(
            self.uri, Resource.from_contents(self.doc, default_specification=dialect)
        )
        self.validator_class = OAS30Validator if self.oas30 else OAS31Validator

    def _compile_paths(self):
        compiled = []
        for template in self.doc.get("paths") or {}:
            segments = template.strip("/").split("/")
            literal_count = sum(1 for s in segments if not s.startswith("{"))
            compiled.append((template, segments, literal_count))
        # more literal segments first, so /templates/{id} loses to /templates/literal
        compiled.sort(key=lambda t: -t[2])
        return compiled

    # --- lookups --------------------------------------------------------------------------

    def lookup(self, pointer: str):
        node = self.doc
        for segment in pointer.lstrip("#").split("/")[1:]:
            segment = segment.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and segment not in node:
                segment = unquote(segment)  # a $ref in URI-fragment form (8x8's file: ~1%7BaccountId%7D)
            node = node[int(segment)] if isinstance(node, list) else node[segment]
        return node

    def resolve(self, node):
        seen = set()
        while isinstance(node, dict) and "$ref" in node and node["$ref"] not in seen:
            seen.add(node["$ref"])
            node = self.lookup(node["$ref"])
        return node

    def inline_pointer(self, schema: dict) -> str:
        """A pointer for an inline schema (kept under a private key of the document)."""
        key = id(schema)
        if key not in self._inline:
            store = self.doc.setdefault("x-sandbox-inline", {})
            name = str(len(store))
            store[name] = schema
            self._inline[key] = f"#/x-sandbox-inline/{name}"
            self._register()
        return self._inline[key]

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation for ``method`` on a concrete ``path`` (no query string), or None."""
        method = method.lower()
        segments = path.strip("/").split("/")
        for template, pattern, _ in self._templates:
            if len(pattern) != len(segments):
                continue
            params = {}
            for want, got in zip(pattern, segments, strict=True):
                if want.startswith("{") and want.endswith("}"):
                    if not got:
                        break
                    params[want[1:-1]] = got
                elif want != got:
                    break
            else:
                node = (self.doc["paths"][template] or {}).get(method)
                if node is not None:
                    return Operation(self, method, template, node, params)
        return None

    def webhook_schema_pointer(self, name: str, content_type: str = "application/json") -> str | None:
        """The request-body schema of a documented webhook (OpenAPI 3.1 ``webhooks``)."""
        hook = (self.doc.get("webhooks") or {}).get(name)
        if not hook:
            return None
        for method in HTTP_METHODS:
            if method in hook:
                media = (self.resolve(hook[method].get("requestBody") or {}).get("content") or {}).get(
                    content_type
                )
                if media and "schema" in media:
                    return media["schema"].get("$ref") or self.inline_pointer(media["schema"])
        return None

    # --- validation -----------------------------------------------------------------------

    def validate(self, pointer: str, instance) -> list[Violation]:
        validator = self.validator_class(
            {"$ref": f"{self.uri}{pointer}"}, registry=self.registry, format_checker=FORMATS
        )
        return _violations(validator.iter_errors(instance))

    def validate_schema(self, schema: dict, instance) -> list[Violation]:
        if "$ref" in schema:
            return self.validate(schema["$ref"], instance)
        return self.validate(self.inline_pointer(schema), instance)


def _stringify_keys(node):
    """YAML reads response codes like ``200:`` as ints; OpenAPI means strings."""
    if isinstance(node, dict):
        return {str(k): _stringify_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_stringify_keys(v) for v in node]
    return node


@lru_cache(maxsize=32)
def load_spec(path: str) -> OpenApiSpec:
    """A spec by file path, parsed once per process (the documents are read-only after loading)."""
    return OpenApiSpec.from_file(path)
