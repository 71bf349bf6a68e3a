"""The /api/v1 JSON API: one NinjaAPI, one router per pillar, one generated OpenAPI document."""

from __future__ import annotations

import importlib

from django.core.exceptions import PermissionDenied, ValidationError
from ninja import NinjaAPI
from ninja.errors import ValidationError as InputError

api = NinjaAPI(title="CityLoop API", version="1", urls_namespace="api-v1",
               description="The hotline, government services and city brain of CityLoop. "
                           "Authenticate with `Authorization: Bearer <token>` (see `cityloop token create`).")

# Each pillar's api.py exposes ``router``; the prefix is the pillar's name, except the hotline's,
# which sits at the root because its resources are the API's main ones (/api/v1/requests, /orders).
PILLARS = {"": "cityloop.hotline.api", "services": "cityloop.services.api", "brain": "cityloop.brain.api"}


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    errors = exc.message_dict if hasattr(exc, "message_dict") else {"__all__": exc.messages}
    return api.create_response(request, {"detail": [{"field": f, "message": " ".join(m)} for f, m in errors.items()]},
                               status=400)


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
    return api.create_response(request, {"detail": [{"field": f, "message": "; ".join(m)} for f, m in merged.items()]},
                               status=400)


@api.exception_handler(PermissionDenied)
def permission_denied(request, exc: PermissionDenied):
    return api.create_response(request, {"detail": str(exc) or "permission denied"}, status=403)


for prefix, module_name in PILLARS.items():
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        continue
    api.add_router(f"/{prefix}/" if prefix else "/", module.router)
