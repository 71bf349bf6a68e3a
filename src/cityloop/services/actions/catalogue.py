"""Writes to the service catalogue: items, drafts, publishing (checked by the linter), snapshots, bundles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cityloop.core import audit
from cityloop.core.actors import Actor
from cityloop.services import clock, rules
from cityloop.services.catalogue import (
    MATERIAL_FIELDS,
    VERSION_FIELDS,
    catalogue_data,
    editable_dict,
    findings_for,
    require_catalogue_admin,
    version_dict,
)
from cityloop.services.models import (
    Bundle,
    BundleItem,
    CatalogueSnapshot,
    ItemVersion,
    Material,
    MaterialForm,
    MaterialSource,
    Necessity,
    OnlineDepth,
    ServiceItem,
    Situation,
    VersionStatus,
)


def _number(data: dict, name: str, errors: dict, *, minimum: float = 0) -> Decimal | None:
    try:
        value = Decimal(str(data.get(name, 0)))
    except InvalidOperation:
        errors[name] = _("%(value)s is not a number") % {"value": data.get(name)}
        return None
    if value < minimum:
        errors[name] = _("must be at least %(minimum)s") % {"minimum": minimum}
    return value


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """Check a version dict field by field; raise one ValidationError naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationError({"__all__": "the definition must be a mapping of fields"})
    errors: dict[str, str] = {}
    unknown = set(data) - set(VERSION_FIELDS) - {"situations", "materials"}
    for name in sorted(unknown):
        errors[name] = _("unknown field")
    if not str(data.get("name") or "").strip():
        errors["name"] = _("an item needs a name")
    for name in ("conditions", "steps"):
        if not isinstance(data.get(name, []), list):
            errors[name] = _("must be a list of sentences")
    clean = {k: data.get(k) for k in VERSION_FIELDS if k in data}
    for name in ("legal_days", "committed_days", "fee"):
        if name in data:
            clean[name] = _number(data, name, errors)
    if (
        "legal_days" in data
        and "committed_days" in data
        and not errors.get("committed_days")
        and clean["committed_days"] is not None
        and clean["legal_days"] is not None
        and clean["committed_days"] > clean["legal_days"]
    ):
        errors["committed_days"] = _("the committed limit cannot exceed the legal limit")
    if "visits" in data and (not isinstance(data["visits"], int) or data["visits"] < 0):
        errors["visits"] = _("a whole number of visits, 0 or more")
    if "online_depth" in data and data["online_depth"] not in OnlineDepth.values:
        depths = ", ".join(map(str, OnlineDepth.values))
        errors["online_depth"] = _("must be one of %(choices)s") % {"choices": depths}
    situations = data.get("situations") or []
    options: dict[str, set[str]] = {}
    for i, s in enumerate(situations):
        key = s.get("key") if isinstance(s, dict) else None
        if not key or not s.get("question") or not s.get("options"):
            errors[f"situations[{i}]"] = _("a situation needs a key, a question and options")
            continue
        options[key] = {str(o.get("value")) for o in s["options"]}
    keys: set[str] = set()
    for i, m in enumerate(data.get("materials") or []):
        if not isinstance(m, dict) or not m.get("key") or not str(m.get("name") or "").strip():
            errors[f"materials[{i}]"] = _("a material needs a key and a name")
            continue
        where = f"materials.{m['key']}"
        if m["key"] in keys:
            errors[f"{where}.key"] = _("keys must be unique within an item")
        keys.add(m["key"])
        for name in sorted(set(m) - set(MATERIAL_FIELDS)):
            errors[f"{where}.{name}"] = _("unknown field")
        for name, choices in (
            ("form", MaterialForm.values),
            ("necessity", Necessity.values),
            ("source", MaterialSource.values),
        ):
            if name in m and m[name] not in choices:
                errors[f"{where}.{name}"] = _("%(value)s is not one of %(choices)s") % {
                    "value": m[name],
                    "choices": ", ".join(choices),
                }
        if "copies" in m and (not isinstance(m["copies"], int) or m["copies"] < 1):
            errors[f"{where}.copies"] = _("at least one copy")
        condition = m.get("condition") or {}
        if m.get("necessity") == "conditional" and not condition:
            errors[f"{where}.condition"] = _("a conditional material must say which answers it depends on")
        for skey, values in condition.items():
            if skey not in options:
                errors[f"{where}.condition"] = _("no situation has the key %(key)s") % {"key": skey}
            elif not set(map(str, values)) <= options[skey]:
                errors[f"{where}.condition"] = _(
                    "%(values)s: not all are answers of the situation %(key)s"
                ) % {
                    "values": ", ".join(map(str, values)),
                    "key": skey,
                }
    if errors:
        raise ValidationError(errors)
    return clean


def _write_children(version: ItemVersion, data: dict[str, Any]) -> None:
    version.situations.all().delete()
    version.materials.all().delete()
    Situation.objects.bulk_create(
        [
            Situation(
                version=version,
                key=s["key"],
                question=s["question"],
                question_en=s.get("question_en", ""),
                options=s["options"],
                order=i,
            )
            for i, s in enumerate(data.get("situations") or [])
        ]
    )
    Material.objects.bulk_create(
        [
            Material(
                version=version, order=i, **{f: m[f] for f in MATERIAL_FIELDS if f in m and m[f] is not None}
            )
            for i, m in enumerate(data.get("materials") or [])
        ]
    )


@transaction.atomic
def create_item(*, code: str, department, data: dict[str, Any], actor: Actor) -> ServiceItem:
    require_catalogue_admin(actor)
    if not code or not code.strip():
        raise ValidationError({"code": "an item needs a code"})
    if ServiceItem.objects.filter(code=code).exists():
        raise ValidationError({"code": f"an item {code!r} exists already"})
    clean = _clean(data)
    item = ServiceItem.objects.create(code=code, department=department)
    version = ItemVersion.objects.create(item=item, number=1, **clean)
    _write_children(version, data)
    audit.record(actor, "service_item.create", item, after={"code": code, "department": department.code})
    return item


@transaction.atomic
def start_draft(item: ServiceItem, *, actor: Actor) -> ItemVersion:
    """The item's draft; editing a published item copies its current version into a new draft."""
    require_catalogue_admin(actor)
    existing = item.draft()
    if existing is not None:
        return existing
    current = item.current_version()
    number = (item.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    data = editable_dict(current) if current else {"name": item.code}
    draft = ItemVersion.objects.create(item=item, number=number, **_clean(data))
    _write_children(draft, data)
    audit.record(actor, "item_version.draft", draft, after={"number": number})
    return draft


@transaction.atomic
def update_draft(version: ItemVersion, data: dict[str, Any], *, actor: Actor) -> ItemVersion:
    require_catalogue_admin(actor)
    version = ItemVersion.objects.select_for_update().get(pk=version.pk)
    if version.frozen:
        raise ValidationError(
            {
                "version": f"version {version.number} is {version.status} and frozen; "
                "start a new draft to change the item"
            }
        )
    clean = _clean(data)
    before = version_dict(version)
    for k, v in clean.items():
        setattr(version, k, v)
    version.save()
    _write_children(version, data)
    audit.record(actor, "item_version.update", version, before=before, after=version_dict(version))
    return version


@transaction.atomic
def publish_version(version: ItemVersion, *, actor: Actor) -> ItemVersion:
    """Freeze a draft after the linter passes; the previous published version retires."""
    require_catalogue_admin(actor)
    version = ItemVersion.objects.select_for_update().get(pk=version.pk)
    if version.frozen:
        raise ValidationError({"version": f"version {version.number} is already {version.status}"})
    findings = findings_for(version)
    if findings:
        errors: dict[str, list[str]] = {}
        for f in findings:
            errors.setdefault(f.field, []).append(f"{f.code} {f.rule}: {f.message}")
        raise ValidationError(errors)
    previous = version.item.current_version()
    if previous is not None:
        previous.status = VersionStatus.RETIRED
        previous.save(update_fields=["status"])
    version.status, version.published_at = VersionStatus.PUBLISHED, clock.now()
    version.save(update_fields=["status", "published_at"])
    audit.record(
        actor,
        "item_version.publish",
        version,
        before="draft",
        after="published",
        retired=previous.number if previous else None,
    )
    take_snapshot(on=clock.now().date(), label="publish", actor=actor)
    return version


@transaction.atomic
def take_snapshot(
    *, on: dt.date, label: str = "manual", actor: Actor, data: dict | None = None
) -> CatalogueSnapshot:
    """Store the published catalogue (or ``data``, for history) as it stood on ``on``; replaces same
    date+label."""
    require_catalogue_admin(actor)
    if not label.strip():
        raise ValidationError({"label": "a snapshot needs a label"})
    snapshot, created = CatalogueSnapshot.objects.update_or_create(
        taken_on=on, label=label, defaults={"data": data if data is not None else catalogue_data()}
    )
    audit.record(
        actor,
        "catalogue.snapshot",
        snapshot,
        after={"on": on.isoformat(), "label": label, "items": len(snapshot.data.get("items", []))},
    )
    return snapshot


@transaction.atomic
def create_bundle(
    *,
    code: str,
    name: str,
    members: list[tuple[ServiceItem, list[str]]],
    actor: Actor,
    name_en: str = "",
    description: str = "",
) -> Bundle:
    require_catalogue_admin(actor)
    if Bundle.objects.filter(code=code).exists():
        raise ValidationError({"code": f"a bundle {code!r} exists already"})
    if len(members) < 2:
        raise ValidationError({"members": "a bundle joins at least two items"})
    rules.check_acyclic({item.code: deps for item, deps in members})
    bundle = Bundle.objects.create(code=code, name=name, name_en=name_en, description=description)
    BundleItem.objects.bulk_create(
        [
            BundleItem(bundle=bundle, item=item, order=i, depends_on=list(deps))
            for i, (item, deps) in enumerate(members)
        ]
    )
    audit.record(actor, "bundle.create", bundle, after={"items": [i.code for i, _ in members]})
    return bundle
