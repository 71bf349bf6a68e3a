"""Queries behind each role's home page (read-only, scoped to the person)."""

from __future__ import annotations

from django.db.models import Count

from cityloop.core import audit
from cityloop.core.models import ApiToken, AuditRecord, User
from cityloop.org.models import Category, Department, Jurisdiction, Responsibility
from cityloop.org.queries import default_city


def public_context() -> dict:
    return {"city": default_city()}


def _city_counts(city) -> dict:
    if city is None:
        return {}
    levels = dict(Jurisdiction.objects.filter(city=city).values_list("level").annotate(n=Count("id")))
    return {
        "districts": levels.get("district", 0),
        "streets": levels.get("street", 0),
        "communities": levels.get("community", 0),
        "departments": Department.objects.filter(city=city).count(),
        "categories": Category.objects.filter(city=city).count(),
    }


def context_for(user: User, role: str) -> dict:
    city = default_city()
    context: dict = {"city": city, "counts": _city_counts(city), "role": role}
    if role == "street" and user.street_id:
        context["street"] = user.street
        context["communities"] = user.street.children.order_by("code")
    if role == "department" and user.department_id:
        context["department"] = user.department
        context["duties"] = (
            Responsibility.objects.filter(department=user.department)
            .select_related("category")
            .order_by("category__code")
        )
    if role == "dispatcher" and city is not None:
        context["routes"] = (
            Responsibility.objects.filter(category__city=city, category__depth=1)
            .select_related("category", "department")
            .order_by("category__code")
        )
    if role == "leader" and city is not None:
        context["districts"] = (
            Jurisdiction.objects.filter(city=city, level="district")
            .annotate(streets=Count("children"))
            .order_by("code")
        )
    if role == "admin":
        context["users_by_role"] = User.objects.values("role").annotate(n=Count("id")).order_by("role")
        context["tokens"] = ApiToken.objects.filter(revoked_at__isnull=True).count()
        context["pack"] = getattr(city, "pack", None) if city else None
    if role == "auditor":
        context.update(audit_context(limit=10))
    return context


def audit_context(limit: int = 100) -> dict:
    verdict = audit.verify()
    return {"verdict": verdict, "records": AuditRecord.objects.order_by("-seq")[:limit]}
