"""Reads: which key signs for whom, and who may see or act on a certificate."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from cityloop.core import permissions
from cityloop.core.actors import Actor, is_system
from cityloop.core.permissions import Role
from cityloop.seal import rules
from cityloop.seal.models import CITY_AUTHORITY, Certificate, SigningKey

# Citywide staff who may open any certificate page (leaders and auditors read, admins also revoke).
READ_ROLES = permissions.REFORM_READERS  # leaders, administrators and auditors read every certificate


def current_key(authority: str) -> SigningKey | None:
    return (
        SigningKey.objects.filter(authority=authority, retired_at__isnull=True)
        .order_by("-created_at")
        .first()
    )


def authority_of(department) -> str:
    """A department with its own seal signs with it; otherwise the one city seal signs (一枚印章)."""
    if department is not None:
        own = rules.authority_for_department(department.code)
        if current_key(own) is not None:
            return own
    return CITY_AUTHORITY


def _role(actor: Actor) -> str | None:
    return permissions.role_of(actor)


def may_act_for(actor: Actor, department) -> bool:
    """The system, admins, or staff of the issuing department issue and revoke."""
    if is_system(actor):
        return True
    role = _role(actor)
    if role == Role.ADMIN:
        return True
    return (
        role == Role.DEPARTMENT
        and department is not None
        and getattr(actor, "department_id", None) == department.pk
    )


def require_may_act_for(actor: Actor, department) -> None:
    if not may_act_for(actor, department):
        raise PermissionDenied("only the issuing department's staff or an administrator may do this")


def may_view(actor: Actor, cert: Certificate) -> bool:
    role = _role(actor)
    if role is None:
        return False
    if role in READ_ROLES or may_act_for(actor, cert.issuer_department):
        return True
    return cert.holder_user_id is not None and cert.holder_user_id == actor.pk


def certificate_for(actor: Actor, serial: str) -> Certificate:
    """The certificate if ``actor`` may see it; PermissionDenied otherwise (also for unknown serials)."""
    cert = Certificate.objects.select_related("issuer_department").filter(serial=serial).first()
    if cert is None or not may_view(actor, cert):
        raise PermissionDenied("no certificate with this serial that you may see")
    return cert


def for_actor(actor: Actor):
    role = _role(actor)
    qs = Certificate.objects.select_related("issuer_department")
    if role is None:
        return qs.none()
    if role in READ_ROLES:
        return qs
    if role == Role.DEPARTMENT:
        return qs.filter(issuer_department_id=getattr(actor, "department_id", None))
    return qs.filter(holder_user_id=actor.pk)
