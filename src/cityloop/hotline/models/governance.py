"""未诉先办: governance tasks (每月一题) made from hot issues, and the hot issues already warned about."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class GovernanceTask(models.Model):
    """每月一题: a problem many people raise, given to responsible units with measures and a target.

    The requests that match it (its place named in the title or description, and one of its words
    when it has any) are counted month by month against the baseline month (hotissues/governance.py).
    """

    city = models.ForeignKey("org.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey(
        "org.Jurisdiction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    theme = models.CharField(_("theme"), max_length=200)
    place_key = models.CharField(_("place"), max_length=100)
    words = models.JSONField(_("words"), default=list, blank=True)
    departments = models.ManyToManyField("org.Department", related_name="+", blank=True)
    measures = models.TextField(_("measures"))
    reduction_pct = models.PositiveSmallIntegerField(_("target reduction (%)"), default=30)
    baseline_month = models.DateField(_("baseline month"))
    deadline = models.DateField(_("deadline"))
    first_request = models.ForeignKey(
        "hotline.Request", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "hotline_governance_task"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.theme


class HotIssueWarning(models.Model):
    """A growing hot issue the dispatch centre was told about, once: a cluster sharing a request with
    one of these is not warned about again."""

    key = models.CharField(max_length=40, unique=True)
    label = models.CharField(max_length=200)
    description = models.CharField(max_length=300)
    callers = models.PositiveIntegerField()
    messages = models.PositiveIntegerField()
    request_ids = models.JSONField(default=list)
    warned_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "hotline_hot_issue_warning"
