"""Reads that depend on who is asking."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from cityloop.core import permissions
from cityloop.core.actors import Actor, is_system, person
from cityloop.core.models import ApiToken, AuditRecord, Role, User

CITYWIDE_ROLES = permissions.CITYWIDE


@dataclass(frozen=True)
class Scope:
    """What part of the city a person may see: everything, one street, one department, or their own."""

    citywide: bool = False
    street_id: int | None = None
    department_id: int | None = None
    user_id: int | None = None


def scope_of(actor: Actor) -> Scope:
    user = person(actor)
    if user is None:
        return Scope()
    if permissions.has_role(user, CITYWIDE_ROLES):
        return Scope(citywide=True, user_id=user.pk)
    if user.role == Role.STREET:
        return Scope(street_id=user.street_id, user_id=user.pk)
    if user.role == Role.DEPARTMENT:
        return Scope(department_id=user.department_id, user_id=user.pk)
    return Scope(user_id=user.pk)


def user_named(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def users(**filters) -> QuerySet[User]:
    return User.objects.filter(**filters)


def live_token_count() -> int:
    return ApiToken.objects.filter(revoked_at__isnull=True).count()


def audit_record_count() -> int:
    return AuditRecord.objects.count()


def ever_audited(action: str) -> bool:
    """Whether the trail holds any record of ``action`` (a loader's own mark, say)."""
    return AuditRecord.objects.filter(action=action).exists()


def latest_audit_records(limit: int) -> QuerySet[AuditRecord]:
    return AuditRecord.objects.order_by("-seq")[:limit]


def require_admin(actor: Actor, *, to: str) -> None:
    """Only an administrator may ``to`` do something; ``None`` is the command line (the machine's owner)."""
    from django.core.exceptions import PermissionDenied

    if is_system(actor):
        return
    if not (actor.is_superuser or getattr(actor, "role", None) == Role.ADMIN):
        raise PermissionDenied(f"only an administrator may {to}")


def for_actor(
    qs: QuerySet,
    actor: Actor,
    *,
    street: str | None = None,
    department: str | None = None,
    owner: str | None = None,
) -> QuerySet:
    """Filter ``qs`` to the rows ``actor`` may see.

    ``street``/``department``/``owner`` name the lookups that tie a row to a street, a department
    or a citizen (e.g. ``street="street_id"``); a role whose tie the model lacks sees nothing.
    """
    scope = scope_of(actor)
    if scope.citywide:
        return qs
    condition = Q(pk__in=[])
    if scope.street_id is not None and street:
        condition |= Q(**{street: scope.street_id})
    if scope.department_id is not None and department:
        condition |= Q(**{department: scope.department_id})
    if scope.user_id is not None and owner and not (scope.street_id or scope.department_id):
        condition |= Q(**{owner: scope.user_id})
    return qs.filter(condition)
