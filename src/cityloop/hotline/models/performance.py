"""The monthly counts behind the rates and rankings."""

from __future__ import annotations

from django.db import models


class MonthlyStat(models.Model):
    """Counts behind the rates, per unit, month and first-level category (rebuilt from the requests).

    The dashboard and rankings read these few thousand rows instead of millions of requests.
    """

    month = models.DateField(db_index=True)
    unit_kind = models.CharField(max_length=10)  # district | street | community | department
    unit_id = models.BigIntegerField()
    category_id = models.BigIntegerField(null=True)  # first-level category; null = unclassified
    received = models.IntegerField(default=0)
    response_due = models.IntegerField(default=0)
    responded = models.IntegerField(default=0)
    followed_up = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    satisfied = models.IntegerField(default=0)
    basic = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    returned = models.IntegerField(default=0)
    overdue = models.IntegerField(default=0)
    open_at_end = models.IntegerField(default=0)
    close_hours_sum = models.FloatField(default=0)
    closed = models.IntegerField(default=0)

    class Meta:
        db_table = "hotline_monthly_stat"
        indexes = [models.Index(fields=["unit_kind", "month"])]
