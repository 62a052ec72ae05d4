"""The OpenAPI document: every operation also lists the errors it can answer, in the one error shape."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

from .errors import ErrorSerializer

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `fields` names each field at fault.",
    "401": "No API key, or an unknown or revoked one.",
    "403": "This key may not do that (e.g. a tenant admin's key creating a tenant).",
    "404": "No such object for this key (another partner's objects are not found either).",
    "409": "Conflicts with the current state (e.g. still in use, not failed).",
    "429": "Rate limit reached: wait the seconds in the Retry-After header.",
}


class PartnerApiSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["400", "401", "429"]
        if "{" in self.path:
            codes.append("404")
        if self.method != "GET":
            codes += ["403", "409"]
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code)
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return responses
