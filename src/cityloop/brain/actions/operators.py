"""What the people on duty do with alarms: acknowledge one (with an optional note), and mute a device
for a period with a reason.  A muted device's new alarms are still recorded, but open no case
(``actions.alarms.record_alarms`` asks :func:`is_muted`); every change is in the audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from cityloop.brain.models import Alarm, Device
from cityloop.core import audit
from cityloop.core.actors import Actor, is_system

NOTE_MAX = 500
REASON_MAX = 200
MUTE_MAX_HOURS = 30 * 24


def is_muted(device: Device, at: datetime | None = None) -> bool:
    return device.muted_until is not None and device.muted_until > (at or timezone.now())


def _require_operator(actor: Actor, device: Device) -> None:
    """Who may: the roles that see the brain, for the devices they see (system actors always)."""
    from cityloop.brain import queries

    if is_system(actor):
        return
    if not queries.can_see_brain(actor) or not queries.devices_for(actor).filter(pk=device.pk).exists():
        raise PermissionDenied("only the staff who see this device in the city brain may do this")


def _user(actor: Actor):
    return actor if getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def acknowledge_alarm(alarm: Alarm, *, note: str = "", actor: Actor) -> Alarm:
    """Someone on duty has seen the alarm (and may say what they make of it)."""
    _require_operator(actor, alarm.device)
    alarm = Alarm.objects.select_for_update().select_related("device").get(pk=alarm.pk)
    note = (note or "").strip()
    if alarm.acknowledged_at is not None:
        raise ValidationError({"alarm": gettext_lazy("this alarm has already been acknowledged")})
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": gettext_lazy("a note has at most 500 characters")})
    alarm.acknowledged_at, alarm.acknowledged_by, alarm.ack_note = timezone.now(), _user(actor), note
    alarm.save(update_fields=["acknowledged_at", "acknowledged_by", "ack_note", "updated_at"])
    audit.record(actor, "alarm.acknowledge", alarm, device=alarm.device.code, type=alarm.type, note=note)
    return alarm


@transaction.atomic
def mute_device(device: Device, *, hours: float | None, reason: str, actor: Actor) -> Device:
    """For ``hours`` from now the device's new alarms are recorded but open no case (a known works site,
    a meter being replaced).  Muting a muted device sets a new end and reason."""
    _require_operator(actor, device)
    device = Device.objects.select_for_update().get(pk=device.pk)
    reason = (reason or "").strip()
    if hours is None or not 1 <= hours <= MUTE_MAX_HOURS:
        raise ValidationError({"hours": gettext_lazy("a mute lasts from 1 hour to 30 days (720 hours)")})
    if not reason:
        raise ValidationError(
            {"reason": gettext_lazy("say why the device is muted, so the next person on duty knows")}
        )
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": gettext_lazy("a reason has at most 200 characters")})
    before = device.muted_until.isoformat() if is_muted(device) and device.muted_until else None
    device.muted_until = timezone.now() + timedelta(hours=hours)
    device.mute_reason, device.muted_by = reason, _user(actor)
    device.save(update_fields=["muted_until", "mute_reason", "muted_by"])
    audit.record(
        actor, "device.mute", device, before=before, after=device.muted_until.isoformat(), reason=reason
    )
    return device


@transaction.atomic
def unmute_device(device: Device, *, actor: Actor) -> Device:
    """End a mute early: the device's next new alarm opens a case again."""
    _require_operator(actor, device)
    device = Device.objects.select_for_update().get(pk=device.pk)
    if not is_muted(device):
        raise ValidationError({"device": gettext_lazy("this device is not muted")})
    before = device.muted_until.isoformat() if device.muted_until else None
    device.muted_until = timezone.now()
    device.save(update_fields=["muted_until"])
    audit.record(actor, "device.unmute", device, before=before, after=device.muted_until.isoformat())
    return device
