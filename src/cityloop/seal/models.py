"""E-certificates (电子证照) and the public half of the seals (电子印章) that sign them.

Private keys never enter the database: ``keyring`` keeps them as 0600 files in the key folder.
``SigningKey`` only records what verifiers need (the public key and its validity period).
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

CITY_AUTHORITY = "city"


class SigningKey(models.Model):
    """One Ed25519 key of one issuing authority: ``city`` (the one city seal) or ``dept:<code>``."""

    kid = models.CharField(_("key id"), max_length=32, unique=True)
    authority = models.CharField(_("authority"), max_length=60, db_index=True)
    authority_name = models.CharField(_("authority name"), max_length=200)
    public_key_pem = models.TextField(_("public key (PEM)"))
    created_at = models.DateTimeField(_("valid from"))
    retired_at = models.DateTimeField(_("valid until"), null=True, blank=True)

    class Meta:
        db_table = "seal_signing_key"
        ordering = ["authority", "created_at"]
        verbose_name = _("signing key")
        verbose_name_plural = _("signing keys")

    def __str__(self) -> str:
        return f"{self.authority} {self.kid}"


class Certificate(models.Model):
    serial = models.CharField(_("serial"), max_length=20, unique=True)
    issuer_department = models.ForeignKey(
        "org.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="certificates",
        verbose_name=_("issuing department"),
    )
    issuer_name = models.CharField(_("issuer"), max_length=200)
    holder_name = models.CharField(_("holder name"), max_length=200)
    holder_id = models.CharField(_("holder ID"), max_length=40)
    # The user who may open the certificate page besides staff (the applicant); optional.
    holder_user = models.ForeignKey(
        "core.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="certificates",
        verbose_name=_("holder account"),
    )
    title = models.CharField(_("title"), max_length=200)
    fields = models.JSONField(_("fields"), default=dict)
    issued_at = models.DateTimeField(_("issued at"))
    kid = models.CharField(_("key id"), max_length=32)
    payload = models.TextField(_("signed payload"))
    status_index = models.PositiveIntegerField(_("status list index"), unique=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revocation_reason = models.CharField(_("revocation reason"), max_length=500, blank=True)
    source_ref = models.CharField(_("source"), max_length=200, blank=True, db_index=True)

    class Meta:
        db_table = "seal_certificate"
        ordering = ["-issued_at", "-id"]
        verbose_name = _("e-certificate")
        verbose_name_plural = _("e-certificates")

    def __str__(self) -> str:
        return f"{self.serial} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("seal:certificate", args=[self.serial])

    def get_pdf_url(self) -> str:
        return reverse("seal:certificate-pdf", args=[self.serial])

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class Counter(models.Model):
    """Gap-free counters (serial numbers per year, status list indexes), taken under a row lock."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "seal_counter"
