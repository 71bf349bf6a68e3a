"""Queries behind each role's home page (read-only, scoped to the person)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count

from cityloop.core import audit
from cityloop.core import queries as core_queries
from cityloop.org import queries as org_queries
from cityloop.org.queries import default_city

if TYPE_CHECKING:
    from cityloop.core.models import User


def public_context() -> dict:
    return {"city": default_city()}


def _city_counts(city) -> dict:
    if city is None:
        return {}
    levels = dict(org_queries.places(city).values_list("level").annotate(n=Count("id")))
    return {
        "districts": levels.get("district", 0),
        "streets": levels.get("street", 0),
        "communities": levels.get("community", 0),
        "departments": org_queries.departments(city).count(),
        "categories": org_queries.categories(city).count(),
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
            org_queries.responsibilities(department=user.department)
            .select_related("category")
            .order_by("category__code")
        )
    if role == "dispatcher" and city is not None:
        context["routes"] = (
            org_queries.responsibilities(category__city=city, category__depth=1)
            .select_related("category", "department")
            .order_by("category__code")
        )
    if role == "leader" and city is not None:
        context["districts"] = (
            org_queries.places(city, level="district").annotate(streets=Count("children")).order_by("code")
        )
    if role == "admin":
        context["users_by_role"] = (
            core_queries.users().values("role").annotate(n=Count("id")).order_by("role")
        )
        context["tokens"] = core_queries.live_token_count()
        context["pack"] = getattr(city, "pack", None) if city else None
    if role == "auditor":
        context.update(audit_context(limit=10))
    return context


def audit_context(limit: int = 100) -> dict:
    verdict = audit.verify()
    return {"verdict": verdict, "records": core_queries.latest_audit_records(limit)}
