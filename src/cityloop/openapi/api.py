"""The /api/v1 JSON API: one NinjaAPI, one router per pillar, one generated OpenAPI document."""

from __future__ import annotations

import importlib

from django.core.exceptions import PermissionDenied, ValidationError
from ninja import NinjaAPI

api = NinjaAPI(title="CityLoop API", version="1", urls_namespace="api-v1",
               description="The hotline, government services and city brain of CityLoop. "
                           "Authenticate with `Authorization: Bearer <token>` (see `cityloop token create`).")

# Each pillar's api.py exposes ``router``; the prefix is the pillar's name.
PILLARS = {"hotline": "cityloop.hotline.api", "services": "cityloop.services.api", "brain": "cityloop.brain.api"}


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    errors = exc.message_dict if hasattr(exc, "message_dict") else {"__all__": exc.messages}
    return api.create_response(request, {"detail": [{"field": f, "message": " ".join(m)} for f, m in errors.items()]},
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
    api.add_router(f"/{prefix}/", module.router)
