"""sandbox/openapi.py: the generic OpenAPI request validator, on a small document and on Infobip's files."""

from sandbox.openapi import OpenApiSpec

from .infobip_support import spec

DOC = {
    "openapi": "3.0.3",
    "paths": {
        "/pets/{petId}": {
            "get": {
                "operationId": "get-pet",
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 10}},
                    {
                        "name": "tags",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
                    },
                ],
            }
        },
        "/pets/mine": {"get": {"operationId": "my-pets"}},
        "/pets": {
            "post": {
                "operationId": "add-pet",
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}
                },
                "responses": {
                    "201": {
                        "content": {"application/json": {"schema": {"type": "object", "required": ["id"]}}}
                    }
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Pet": {
                "type": "object",
                "required": ["kind", "name"],
                "properties": {
                    "kind": {"type": "string"},
                    "name": {"type": "string", "minLength": 1, "nullable": True},
                },
                "discriminator": {"propertyName": "kind", "mapping": {"dog": "#/components/schemas/Dog"}},
            },
            "Dog": {
                "allOf": [
                    {"$ref": "#/components/schemas/Pet"},
                    {"type": "object", "required": ["bark"], "properties": {"bark": {"type": "boolean"}}},
                ]
            },
        }
    },
}


def test_operation_lookup_prefers_literal_segments():
    document = OpenApiSpec(DOC)
    assert document.operation("get", "/pets/mine").operation_id == "my-pets"
    found = document.operation("GET", "/pets/42")
    assert found.operation_id == "get-pet" and found.path_params == {"petId": "42"}
    assert document.operation("delete", "/pets/42") is None
    assert document.operation("get", "/cats") is None


def test_body_validation_follows_refs_and_the_discriminator():
    operation = OpenApiSpec(DOC).operation("post", "/pets")
    assert operation.validate_body({"kind": "dog", "name": "Rex", "bark": True}) == []
    missing = operation.validate_body({"kind": "dog", "name": ""})
    assert {(v.dotted(), v.keyword) for v in missing} == {("bark", "required"), ("name", "minLength")}
    assert operation.validate_body({"kind": "dog", "name": None, "bark": False}) == []  # OpenAPI 3.0 nullable
    # a mapping without oneOf/anyOf is closed: another value is an enum violation
    unknown = operation.validate_body({"kind": "cow", "name": "x"})
    assert [(v.dotted(), v.keyword) for v in unknown] == [("kind", "enum")]


def test_parameters_are_coerced_and_validated():
    operation = OpenApiSpec(DOC).operation("get", "/pets/7")
    assert operation.validate_params({"limit": ["3"], "tags": ["a", "b"]}) == []
    violations = operation.validate_params({"limit": ["11"], "tags": ["c"]})
    assert {(v.dotted(), v.keyword) for v in violations} == {("limit", "maximum"), ("tags", "enum")}
    assert [v.dotted() for v in operation.validate_params({})] == ["tags"]
    assert operation.validate_params({}, "path") == []


def test_response_validation():
    operation = OpenApiSpec(DOC).operation("post", "/pets")
    assert operation.validate_response(201, {"id": 1}) == []
    assert [v.keyword for v in operation.validate_response(201, {})] == ["required"]
    assert operation.validate_response(500, {}) == []  # undocumented status: nothing to check


def test_infobip_vendor_examples_validate():
    whatsapp = spec("whatsapp")
    operation = whatsapp.operation("post", "/whatsapp/1/message/template")
    for example in operation.node["requestBody"]["content"]["application/json"]["examples"].values():
        if "flow" in str(example["value"]).lower():
            continue  # the vendor's own Flow examples contradict its schema (see the fidelity README)
        assert operation.validate_body(example["value"]) == [], example["summary"]


def test_infobip_template_header_dispatches_on_type():
    operation = spec("whatsapp").operation("post", "/whatsapp/1/message/template")
    body = {
        "messages": [
            {
                "from": "1",
                "to": "2",
                "content": {
                    "templateName": "t",
                    "language": "en",
                    "templateData": {
                        "body": {"placeholders": []},
                        "header": {"type": "DOCUMENT", "mediaUrl": "https://e.com/a.pdf"},
                    },
                },
            }
        ]
    }
    assert [v.dotted() for v in operation.validate_body(body)] == [
        "messages[0].content.templateData.header.filename"
    ]
