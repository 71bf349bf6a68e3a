"""吹哨报到: whistles, the departments they summon, and the streets' assessments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class WhistleStatus(models.TextChoices):
    OPEN = "open", _("Open: departments reporting in")
    CLOSED = "closed", _("Closed")


class Whistle(models.Model):
    """吹哨: a street summons departments to a problem it cannot solve alone."""

    street = models.ForeignKey("org.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    request = models.ForeignKey(
        "hotline.Request", null=True, blank=True, on_delete=models.PROTECT, related_name="whistles"
    )
    title = models.CharField(_("problem"), max_length=200)
    need = models.TextField(_("what is needed"))
    urgent = models.BooleanField(_("urgent"), default=False)
    blown_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    blown_at = models.DateTimeField(db_index=True)
    report_due = models.DateTimeField()
    finish_due = models.DateTimeField()
    status = models.CharField(max_length=8, choices=WhistleStatus.choices, default=WhistleStatus.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "hotline_whistle"


class SummonStatus(models.TextChoices):
    SUMMONED = "summoned", _("Summoned, not yet reported in")
    ACCEPTED = "accepted", _("Reported in")
    DISPUTED = "disputed", _("Disputed, awaiting arbitration")
    RELEASED = "released", _("Released by arbitration")


class Summons(models.Model):
    """One summoned department: its report-in (报到), its task in joint handling, and the street's rating."""

    whistle = models.ForeignKey(Whistle, on_delete=models.CASCADE, related_name="summonses")
    department = models.ForeignKey("org.Department", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=SummonStatus.choices, default=SummonStatus.SUMMONED)
    responsible_person = models.CharField(max_length=100, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    late = models.BooleanField(default=False)
    missed = models.BooleanField(default=False)
    dispute_reason = models.TextField(blank=True)
    arbitration_note = models.TextField(blank=True)
    task_done_at = models.DateTimeField(null=True, blank=True)
    task_note = models.TextField(blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_comment = models.TextField(blank=True)

    class Meta:
        db_table = "hotline_summons"
        constraints = [
            models.UniqueConstraint(fields=["whistle", "department"], name="hotline_summons_unique")
        ]


class Assessment(models.Model):
    """下对上考核: a street's monthly score (0-100) of a department that serves it."""

    street = models.ForeignKey("org.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey("org.Department", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()  # first day of the month
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assessed_at = models.DateTimeField()

    class Meta:
        db_table = "hotline_assessment"
        constraints = [
            models.UniqueConstraint(
                fields=["street", "department", "month"], name="hotline_assessment_unique"
            )
        ]
