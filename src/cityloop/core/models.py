"""Accounts, API tokens and the hash-chained audit trail."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CITIZEN = "citizen", _("Citizen")
    DISPATCHER = "dispatcher", _("Hotline operator")
    STREET = "street", _("Street official")
    DEPARTMENT = "department", _("Department staff")
    LEADER = "leader", _("Leader")
    ADMIN = "admin", _("Administrator")
    AUDITOR = "auditor", _("Auditor")


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CITIZEN)
    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    # A street official works for one street (街乡); department staff for one department.
    street = models.ForeignKey(
        "org.Jurisdiction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="officials",
        verbose_name=_("street"),
    )
    department = models.ForeignKey(
        "org.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        verbose_name=_("department"),
    )
    # The identity a window clerk (or the city's identity provider) has checked against a document:
    # a citizen applies online only as this holder, so nobody can apply with someone else's ID number.
    id_number = models.CharField(_("verified ID number"), max_length=32, blank=True)
    id_verified_at = models.DateTimeField(_("identity verified at"), null=True, blank=True)
    id_verified_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("identity verified by"),
    )

    class Meta:
        db_table = "core_user"
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def clean(self) -> None:
        super().clean()
        from cityloop.core import rules_roles

        errors = rules_roles.scope_errors(
            self.role,
            street_level=self.street.level if self.street_id else None,
            has_department=self.department_id is not None,
        )
        if errors:
            raise ValidationError(errors)

    @property
    def display_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username


class ApiToken(models.Model):
    """A credential for integrators. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, unique=True, verbose_name=_("prefix"))
    digest = models.CharField(max_length=64, verbose_name=_("digest"))
    scopes = models.CharField(_("scopes"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))
    # A brain token writes readings only for the devices of this gateway ("*": every device, by choice).
    gateway = models.CharField(_("gateway"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        db_table = "core_api_token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):  # noqa: ARG002 - the audit trail is append-only
        raise PermissionError("audit records are append-only")

    def delete(self):
        raise PermissionError("audit records are append-only")


class AuditRecord(models.Model):
    """One entry of the append-only trail; ``digest`` chains it to the record before it."""

    seq = models.PositiveBigIntegerField(unique=True, verbose_name=_("sequence number"))
    at = models.DateTimeField(db_index=True, verbose_name=_("time"))
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True, verbose_name=_("actor ID"))
    actor_label = models.CharField(max_length=150, verbose_name=_("actor"))
    action = models.CharField(max_length=80, db_index=True, verbose_name=_("action"))
    object_type = models.CharField(max_length=80, verbose_name=_("object type"))
    object_id = models.CharField(max_length=64, verbose_name=_("object ID"))
    summary = models.TextField(verbose_name=_("summary"))
    prev_digest = models.CharField(max_length=64, verbose_name=_("previous digest"))
    digest = models.CharField(max_length=64, verbose_name=_("digest"))

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        db_table = "core_audit_record"
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("audit records are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit records are append-only")


class AuditHead(models.Model):
    """The last link of the chain, so that deleting the newest records is detected too."""

    seq = models.PositiveBigIntegerField(default=0)
    digest = models.CharField(max_length=64, default="")

    class Meta:
        db_table = "core_audit_head"


class JobRun(models.Model):
    """One run of a scheduled job (core.schedule). The unique (name, slot) is the claim: a second
    scheduler that tries the same slot gets an IntegrityError and skips it."""

    name = models.CharField(max_length=100)
    slot = models.DateTimeField()  # the scheduled minute or period start (or the moment, for a run asked now)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)  # None while it runs (or when its process died mid-run)
    said = models.TextField(blank=True, default="")

    class Meta:
        db_table = "core_job_run"
        constraints = [models.UniqueConstraint(fields=["name", "slot"], name="core_job_run_one_per_slot")]
        indexes = [models.Index(fields=["name", "-started_at"], name="core_job_run_latest")]

    def __str__(self) -> str:
        return f"{self.name} @ {self.slot:%Y-%m-%d %H:%M}"
