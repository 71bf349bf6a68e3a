"""The classifier that learns: the dispatchers' decisions kept as labelled examples."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LabelledExample(models.Model):
    """A dispatcher's decision on a request's category, kept to train the classifier on.

    One per request: the last decision wins. ``accepted`` says the dispatcher kept the classifier's
    suggestion (a confirmed label); otherwise they changed it, or there was none.
    """

    request = models.OneToOneField(
        "hotline.Request", on_delete=models.CASCADE, related_name="labelled_example"
    )
    city = models.ForeignKey("org.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("text"))
    category = models.ForeignKey("org.Category", on_delete=models.PROTECT, related_name="+")
    category_code = models.CharField(_("category"), max_length=40)
    suggested_category = models.ForeignKey(
        "org.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suggested_code = models.CharField(_("suggested category"), max_length=40, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    accepted = models.BooleanField(_("suggestion kept"), default=False)
    # the model in use when the dispatcher decided (the signature's first characters; blank: none)
    model_version = models.CharField(_("model version"), max_length=16, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), db_index=True)

    class Meta:
        db_table = "hotline_labelled_example"
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.category_code}"


class ClassifierRun(models.Model):
    """One retraining of the classifier: what it learned from, how the candidate and the model in use
    did on the same held-out rows, and whether the candidate took its place (and why)."""

    started_at = models.DateTimeField(_("started"), db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    trigger = models.CharField(_("started by"), max_length=16)  # schedule, command, page
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    base_csv = models.CharField(_("base training data"), max_length=500, blank=True)
    base_sha256 = models.CharField(max_length=64, blank=True)
    base_rows = models.PositiveIntegerField(default=0)
    examples = models.PositiveIntegerField(_("dispatchers' examples"), default=0)
    train_rows = models.PositiveIntegerField(_("training rows"), default=0)
    heldout_rows = models.PositiveIntegerField(_("held-out rows"), default=0)
    classes = models.PositiveIntegerField(default=0)
    candidate_accuracy = models.FloatField(null=True, blank=True)
    candidate_macro_f1 = models.FloatField(null=True, blank=True)
    current_accuracy = models.FloatField(null=True, blank=True)
    current_macro_f1 = models.FloatField(null=True, blank=True)
    current_version = models.CharField(max_length=16, blank=True)
    candidate_version = models.CharField(max_length=16, blank=True)  # set when it was promoted
    promoted = models.BooleanField(_("promoted"), default=False)
    reason = models.CharField(_("why"), max_length=300, blank=True)

    class Meta:
        db_table = "hotline_classifier_run"
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"classifier run {self.pk} ({'promoted' if self.promoted else 'kept'})"
