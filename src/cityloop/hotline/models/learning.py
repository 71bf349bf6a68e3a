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
