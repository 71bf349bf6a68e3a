"""The /api/v1 JSON API: one NinjaAPI, one router per pillar, one generated OpenAPI document."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.errors import ValidationError as InputError

from cityloop.brain import api as brain_api
from cityloop.core.doors.forms import errors_in_english
from cityloop.hotline import api as hotline_api
from cityloop.services import api as services_api

# Every operation can answer with these; the document says so even where the operation forgot to.
ERROR_ANSWERS = {
    "400": ("Errors", "Bad input: every bad field with the rule it breaks; nothing was stored."),
    "401": ("Problem", "No token, or a token that is unknown, expired or revoked."),
    "403": ("Problem", "The token's account may not do this."),
    "404": ("Problem", "Unknown, or not visible to this account."),
    "429": ("Problem", "Too many calls; wait and retry."),
}
FIELD_ERROR = {
    "type": "object",
    "required": ["field", "message"],
    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
}
ERROR_SCHEMAS = {
    "Errors": {
        "type": "object",
        "required": ["detail"],
        "properties": {"detail": {"type": "array", "items": FIELD_ERROR}},
    },
    "Problem": {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}},
}


class CityLoopAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, body in ERROR_SCHEMAS.items():
            components.setdefault(name, body)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                for status, (name, text) in ERROR_ANSWERS.items():
                    operation["responses"].setdefault(
                        status,
                        {
                            "description": text,
                            "content": {
                                "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                            },
                        },
                    )
        return schema


api = CityLoopAPI(
    title="CityLoop API",
    version="1",
    urls_namespace="api-v1",
    description="The hotline, government services and city brain of CityLoop. "
    "Authenticate with `Authorization: Bearer <token>` (see `cityloop token create`).",
)

# Each pillar's api.py exposes ``router``; the prefix is the pillar's name, except the hotline's,
# which sits at the root because its resources are the API's main ones (/api/v1/requests, /orders).
PILLARS = {"": hotline_api.router, "services": services_api.router, "brain": brain_api.router}


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    errors = errors_in_english(exc)
    return api.create_response(
        request, {"detail": [{"field": f, "message": " ".join(m)} for f, m in errors.items()]}, status=400
    )


def _field_of(loc) -> str:
    # pydantic's loc is ("body", "payload", "lat") or ("query", "limit"): drop the parameter plumbing.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form", "file", "cookie")]
    if len(parts) > 1 and parts[0] in ("payload", "filters"):
        parts = parts[1:]
    return ".".join(parts) or "__all__"


@api.exception_handler(InputError)
def input_error(request, exc: InputError):
    """Malformed input (wrong type, missing field) gets the same 400 shape as a broken rule."""
    merged: dict[str, list[str]] = {}
    for error in exc.errors:
        merged.setdefault(_field_of(error.get("loc", ())), []).append(error.get("msg", "invalid"))
    return api.create_response(
        request, {"detail": [{"field": f, "message": "; ".join(m)} for f, m in merged.items()]}, status=400
    )


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    """Ninja's own refusals; a body that is not JSON gets the documented field list, not a bare string."""
    if exc.status_code == 400:
        return api.create_response(
            request,
            {"detail": [{"field": "body", "message": "not valid JSON (or not the declared form encoding)"}]},
            status=400,
        )
    return api.create_response(request, {"detail": str(exc) or "refused"}, status=exc.status_code)


@api.exception_handler(PermissionDenied)
def permission_denied(request, exc: PermissionDenied):
    return api.create_response(request, {"detail": str(exc) or "permission denied"}, status=403)


for prefix, router in PILLARS.items():
    api.add_router(f"/{prefix}/" if prefix else "/", router)
