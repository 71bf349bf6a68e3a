"""/api/v1/brain: upload readings (token scope ``brain``), read a device as NGSI-LD."""

from __future__ import annotations

import orjson
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router
from ninja.security import django_auth

from cityloop.brain import actions, queries
from cityloop.brain.ingest import access
from cityloop.brain.ingest.codec import CodecError
from cityloop.brain.models import Device
from cityloop.core import audit
from cityloop.core.doors.auth import token_auth

router = Router(tags=["brain"])


def _error(field: str, message: str, status: int = 400) -> HttpResponse:
    body = {"detail": [{"field": field, "message": message}]}
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


@router.post(
    "/readings",
    auth=token_auth("brain"),
    summary="Upload a batch of readings",
    description='Body: compact JSON `{"d":[codes],"t":[epoch s],"v":[values]}` or JSON lines '
    "(`application/json`, `application/x-ndjson`), CSV `device,ts,value` (`text/csv`) or "
    "Apache Arrow IPC (`application/vnd.apache.arrow.stream`). Every reading is either "
    "accepted or counted as rejected with its reason.",
)
def upload_readings(request):
    token = request.api_token
    if not token.gateway:
        return _error(
            "token",
            "this token is bound to no gateway, so it may write no readings: create one with "
            "`cityloop token create USER --scope brain --gateway G`",
            status=403,
        )
    try:
        batch = actions.decode_payload(request.body, request.headers.get("Content-Type", ""))
    except CodecError as exc:
        field, _, message = str(exc).partition(": ")
        return _error(field, message or str(exc))
    refused = access.foreign(token.gateway, set(batch.device.tolist()))
    if refused:
        # Someone holding one gateway's token writes another's devices: nothing of the upload is kept.
        audit.record(
            token.user,
            "brain.readings_refused",
            None,
            token=token.prefix,
            gateway=token.gateway,
            devices=refused[:20],
            count=len(refused),
        )
        shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
        return _error(
            "d",
            f"device(s) {shown} belong to another gateway than this token's ({token.gateway}); "
            "nothing of this upload was stored",
            status=403,
        )
    report = actions.upload_readings(batch, source="http")
    return HttpResponse(orjson.dumps(report.as_dict()), content_type="application/json")


@router.get(
    "/devices/{code}",
    auth=[*token_auth("brain"), django_auth],
    summary="A device as NGSI-LD",
    description="The device with its latest reading, shaped as an NGSI-LD entity.",
)
def device_entity(request, code: str):
    # A token holder is an integrator with city-wide read access; a person sees what their role covers.
    qs = (
        Device.objects.select_related("street", "district", "community", "department")
        if hasattr(request, "api_token")
        else queries.devices_for(request.user)
    )
    device = get_object_or_404(qs, code=code)
    return HttpResponse(orjson.dumps(queries.ngsi_ld(device)), content_type="application/ld+json")
