"""The brain's tables: devices, alarms (one per ongoing problem), hourly pulse, reject tallies, checkpoint.

Raw readings and rejected readings are not rows here: they are Parquet files under the archive
(see :mod:`cityloop.brain.archive.archive`), written at each checkpoint.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class DeviceType(models.TextChoices):
    METER = "meter", _("Meter")
    SENSOR = "sensor", _("Sensor")


class Kind(models.TextChoices):
    """What a device measures; the names match :class:`cityloop.brain.detect.detectors.Kind`."""

    WATER = "water", _("Water")
    POWER = "power", _("Power")
    GAS = "gas", _("Gas")
    NOISE = "noise", _("Noise")
    AIR = "air", _("Air quality")
    MANHOLE = "manhole", _("Manhole cover")
    WATER_LEVEL = "water_level", _("Water level")
    OTHER = "other", _("Other")


class Device(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True)
    # Dense position in the detector state arrays; never reused, never changed.
    idx = models.PositiveIntegerField(unique=True)
    type = models.CharField(_("type"), max_length=8, choices=DeviceType.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    lon = models.FloatField(_("longitude"))
    lat = models.FloatField(_("latitude"))
    city = models.ForeignKey("org.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey(
        "org.Jurisdiction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("district"),
    )
    street = models.ForeignKey(
        "org.Jurisdiction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="brain_devices",
        verbose_name=_("street"),
    )
    community = models.ForeignKey(
        "org.Jurisdiction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("community"),
    )
    department = models.ForeignKey(
        "org.Department",
        on_delete=models.PROTECT,
        related_name="brain_devices",
        verbose_name=_("owning department"),
    )
    interval_s = models.PositiveIntegerField(_("expected interval (s)"))
    # The gateway whose token (MQTT/NATS identity) may write its readings; see brain/ingest/access.py.
    gateway = models.CharField(_("gateway"), max_length=64, blank=True, default="", db_index=True)
    installed_at = models.DateTimeField(_("installed at"))
    active = models.BooleanField(_("active"), default=True)
    # Until then the device's new alarms are recorded but open no case (actions/operators.py).
    muted_until = models.DateTimeField(_("muted until"), null=True, blank=True)
    mute_reason = models.CharField(_("mute reason"), max_length=200, blank=True, default="")
    muted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "brain_device"
        ordering = ["code"]
        indexes = [models.Index(fields=["street", "kind"])]
        verbose_name = _("device")
        verbose_name_plural = _("devices")

    def __str__(self) -> str:
        return self.code


class AlarmType(models.TextChoices):
    """Names match :class:`cityloop.brain.detect.detectors.AlarmType`."""

    LEAK = "leak", _("Continuous night flow (leak)")
    STUCK = "stuck", _("Stuck counter")
    ZERO = "zero", _("No consumption for a long time")
    SPIKE = "spike", _("Spike")
    SILENT = "silent", _("Silent device")
    ANOMALY = "anomaly", _("Anomaly")


class AlarmStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("alarm", "Open")  # alarming, case open
    AWAITING = "awaiting", _("Awaiting verification")  # the department replied fixed; watching the data
    CLOSED = "closed", pgettext_lazy("alarm", "Closed")  # the data stayed normal for the verification period


class Alarm(models.Model):
    """One alarm type of an ongoing problem of one device (device + type); repeated alarms add
    evidence to it.  The alarms of one device's ongoing problem share its one case (``request_id``)."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="alarms")
    type = models.CharField(_("type"), max_length=16, choices=AlarmType.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=AlarmStatus.choices, default=AlarmStatus.OPEN
    )
    first_ts = models.DateTimeField(_("first abnormal reading"))
    last_ts = models.DateTimeField(_("last abnormal reading"))
    occurrences = models.PositiveIntegerField(default=1)
    score = models.FloatField(default=0.0)
    # The readings that triggered each occurrence (newest last, capped).
    evidence = models.JSONField(default=list)
    # The hotline case (a hotline Request pk) — the brain never writes hotline rows itself.
    request_id = models.BigIntegerField(null=True, blank=True)
    tracking_no = models.CharField(max_length=40, blank=True)
    case_opened_at = models.DateTimeField(null=True, blank=True)
    # Wall-clock seconds from the first abnormal reading's arrival to the case being opened.
    latency_s = models.FloatField(null=True, blank=True)
    normal_since = models.DateTimeField(null=True, blank=True)
    reopened = models.PositiveIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ack_note = models.CharField(_("acknowledgement note"), max_length=500, blank=True, default="")
    # Set when the alarm began while its device was muted (the mute's end then): it opened no case.
    muted_until = models.DateTimeField(_("muted until"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "brain_alarm"
        ordering = ["-last_ts"]
        indexes = [models.Index(fields=["device", "type", "status"]), models.Index(fields=["status"])]
        verbose_name = _("alarm")
        verbose_name_plural = _("alarms")


class Hourly(models.Model):
    """The pulse: one hour of one kind in one street (street empty: the part of a district in no street)."""

    hour = models.DateTimeField()
    district = models.ForeignKey(
        "org.Jurisdiction", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    street = models.ForeignKey(
        "org.Jurisdiction", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    consumption = models.FloatField(default=0.0)
    readings = models.PositiveIntegerField(default=0)
    devices = models.PositiveIntegerField(default=0)
    alarms = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "brain_hourly"
        indexes = [models.Index(fields=["hour", "kind"]), models.Index(fields=["district", "hour"])]


class RejectTally(models.Model):
    """How many readings were rejected, per day, source and reason (the readings are in the archive)."""

    day = models.DateField()
    source = models.CharField(max_length=16)
    reason = models.CharField(max_length=32)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "brain_reject_tally"
        constraints = [
            models.UniqueConstraint(fields=["day", "source", "reason"], name="brain_reject_tally_key")
        ]


def _new_instance() -> str:
    import uuid

    return uuid.uuid4().hex


class Checkpoint(models.Model):
    """The commit point of the brain's state: the detector snapshot and archive parts of
    ``generation`` are valid; ``stream_seq`` is the last NATS stream sequence they include."""

    name = models.CharField(max_length=32, unique=True)
    # Which database the brain directory's files belong to (written to state/instance).
    instance = models.CharField(max_length=32, default=_new_instance)
    generation = models.PositiveBigIntegerField(default=0)
    stream_seq = models.PositiveBigIntegerField(default=0)
    readings = models.PositiveBigIntegerField(default=0)
    rejects = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "brain_checkpoint"
