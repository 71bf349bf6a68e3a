"""Writes to the catalogue: items, drafts, publishing (linted), bundles, snapshots, demo loading."""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from cityloop.core.actors import Actor
from cityloop.core.queries import require_admin
from cityloop.services import rules
from cityloop.services.models import (
    CatalogueSnapshot,
    ItemVersion,
    VersionStatus,
)

SHIPPED_LEXICON = Path(__file__).resolve().with_name("lexicon.yaml")
VERSION_FIELDS = (
    "name",
    "name_en",
    "legal_basis",
    "conditions",
    "steps",
    "legal_days",
    "committed_days",
    "fee",
    "visits",
    "online_depth",
    "result_title",
)
MATERIAL_FIELDS = (
    "key",
    "name",
    "name_en",
    "form",
    "copies",
    "necessity",
    "condition",
    "legal_basis",
    "template",
    "source",
    "record_type",
    "upload_required",
    "proves",
    "is_certificate",
)


def lexicon_path() -> Path:
    configured = getattr(settings, "CITYLOOP_SERVICES_LEXICON", "") or os.environ.get(
        "CITYLOOP_SERVICES_LEXICON", ""
    )
    return Path(configured) if configured else SHIPPED_LEXICON


@functools.lru_cache(maxsize=8)
def _lexicon_at(path: str, mtime: float) -> rules.Lexicon:
    return rules.Lexicon.from_dict(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})


def lexicon() -> rules.Lexicon:
    path = lexicon_path()
    return _lexicon_at(str(path), path.stat().st_mtime)


def require_catalogue_admin(actor: Actor) -> None:
    require_admin(actor, to="edit the service catalogue")


# ----------------------------------------------------------------------------- dict shape


def version_dict(version: ItemVersion) -> dict[str, Any]:
    """The linter's, the snapshot's and the editor's view of a version."""
    item = version.item
    return {
        "code": item.code,
        "department": item.department.code,
        "department_name": item.department.name,
        "version": version.number,
        "status": version.status,
        **{
            f: getattr(version, f)
            for f in (
                "name",
                "name_en",
                "legal_basis",
                "conditions",
                "steps",
                "visits",
                "online_depth",
                "result_title",
            )
        },
        "legal_days": float(version.legal_days),
        "committed_days": float(version.committed_days),
        "fee": float(version.fee),
        "situations": [
            {"key": s.key, "question": s.question, "question_en": s.question_en, "options": s.options}
            for s in version.situations.all()
        ],
        "materials": [{f: getattr(m, f) for f in MATERIAL_FIELDS} for m in version.materials.all()],
    }


def editable_dict(version: ItemVersion) -> dict[str, Any]:
    data = version_dict(version)
    for k in ("code", "department", "department_name", "version", "status"):
        data.pop(k)
    return data


def catalogue_data() -> dict[str, Any]:
    versions = (
        ItemVersion.objects.filter(status=VersionStatus.PUBLISHED)
        .select_related("item__department")
        .prefetch_related("situations", "materials")
        .order_by("item__code")
    )
    return {"items": [version_dict(v) for v in versions]}


def findings_for(version: ItemVersion) -> list[rules.Finding]:
    return rules.lint_item(version_dict(version), lexicon())


def snapshot_on(day: dt.date) -> CatalogueSnapshot | None:
    """The newest snapshot taken on or before ``day``."""
    return (
        CatalogueSnapshot.objects.filter(taken_on__lte=day)
        .order_by("-taken_on", "-created_at", "-pk")
        .first()
    )
