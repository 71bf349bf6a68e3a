"""Pure rules of the services pillar: the checklist linter, state machines, needs and clocks. No I/O.

The linter works on plain dicts (the shape of the demo YAML, of a catalogue snapshot and of
``catalogue.version_dict``), so the same rules check a draft, the whole catalogue and old snapshots.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError

# ----------------------------------------------------------------------------- linter


@dataclass(frozen=True)
class VaguePattern:
    code: str
    rule: str
    message: str
    patterns: tuple[re.Pattern, ...]


@dataclass(frozen=True)
class Lexicon:
    vague: tuple[VaguePattern, ...]
    registry: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lexicon:
        vague = tuple(
            VaguePattern(
                code=str(v["code"]),
                rule=str(v["rule"]),
                message=str(v["message"]),
                patterns=tuple(re.compile(p, re.IGNORECASE) for p in v["patterns"]),
            )
            for v in data.get("vague") or []
        )
        registry = {
            str(k): tuple(str(w).lower() for w in words) for k, words in (data.get("registry") or {}).items()
        }
        return cls(vague=vague, registry=registry)


@dataclass(frozen=True)
class Finding:
    item: str
    code: str
    rule: str
    field: str
    message: str
    text: str = ""
    # the values the message names, for a page that words it in its own language: (("source", "elicence"),)
    values: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        quoted = f' "{self.text}"' if self.text else ""
        return f"{self.item} {self.field}: {self.code} {self.rule}{quoted}: {self.message}"


FETCHABLE_SOURCES = {"elicence", "data_sharing"}
ARTICLE = re.compile(r"第[一二三四五六七八九十百零〇\d]+条|\barticle\s+\d+|§\s*\d+", re.IGNORECASE)
RULE_NO_LEGAL_BASIS = ("CL201", "material-without-legal-basis")
RULE_ITEM_NO_ARTICLE = ("CL202", "item-without-legal-article")
RULE_FETCHABLE_UPLOAD = ("CL301", "upload-of-fetchable-material")
RULE_REGISTRY_RECORD = ("CL302", "upload-of-registry-record")
RULE_DUPLICATE = ("CL401", "duplicate-material")


def _vague_findings(lexicon: Lexicon, item: str, fieldname: str, text: str) -> list[Finding]:
    found = []
    for vague in lexicon.vague:
        if any(p.search(text) for p in vague.patterns):
            found.append(Finding(item, vague.code, vague.rule, fieldname, vague.message, text))
    return found


def _normal(name: str) -> str:
    return re.sub(r"[\s（）()《》“”\"'、，,.。]+", "", name).lower()


def registry_type_named(lexicon: Lexicon, name: str) -> str | None:
    lowered = name.lower()
    for record_type, words in lexicon.registry.items():
        if any(w in lowered for w in words):
            return record_type
    return None


def lint_item(item: Mapping[str, Any], lexicon: Lexicon) -> list[Finding]:
    """Every finding for one item version (a dict); an empty list means it may be published."""
    code = str(item.get("code", "?"))
    findings: list[Finding] = []
    if not ARTICLE.search(str(item.get("legal_basis") or "")):
        c, r = RULE_ITEM_NO_ARTICLE
        findings.append(
            Finding(
                code,
                c,
                r,
                "legal_basis",
                "the item must cite a law and its article (第…条)",
                str(item.get("legal_basis") or ""),
            )
        )
    for i, condition in enumerate(item.get("conditions") or []):
        findings += _vague_findings(lexicon, code, f"conditions[{i}]", str(condition))
    seen_names: dict[str, str] = {}
    seen_proves: dict[str, str] = {}
    for i, material in enumerate(item.get("materials") or []):
        key = str(material.get("key") or i)
        where = f"materials.{key}"
        name = str(material.get("name") or "")
        findings += _vague_findings(lexicon, code, f"{where}.name", name)
        if material.get("template"):
            findings += _vague_findings(lexicon, code, f"{where}.template", str(material["template"]))
        if not str(material.get("legal_basis") or "").strip():
            c, r = RULE_NO_LEGAL_BASIS
            findings.append(
                Finding(
                    code,
                    c,
                    r,
                    f"{where}.legal_basis",
                    "every material needs the law and article that requires it",
                    name,
                )
            )
        source = material.get("source", "applicant")
        uploads = material.get("upload_required", True)
        if source in FETCHABLE_SOURCES and uploads:
            c, r = RULE_FETCHABLE_UPLOAD
            findings.append(
                Finding(
                    code,
                    c,
                    r,
                    f"{where}.upload_required",
                    f"the government holds this ({source}); fetch it instead of asking for an upload",
                    name,
                    (("source", str(source)),),
                )
            )
        elif source == "applicant":
            held = material.get("record_type") or registry_type_named(lexicon, name)
            if held:
                c, r = RULE_REGISTRY_RECORD
                findings.append(
                    Finding(
                        code,
                        c,
                        r,
                        f"{where}.source",
                        f"the registry holds {held} records; set source to elicence or data_sharing",
                        name,
                        (("record", str(held)),),
                    )
                )
        normal = _normal(name)
        if normal in seen_names:
            c, r = RULE_DUPLICATE
            findings.append(
                Finding(
                    code,
                    c,
                    r,
                    f"{where}.name",
                    f"the same material is already listed as materials.{seen_names[normal]}",
                    name,
                    (("other", str(seen_names[normal])),),
                )
            )
        else:
            seen_names[normal] = key
        proves = str(material.get("proves") or "")
        condition = material.get("condition") or {}
        if proves and not condition:
            if proves in seen_proves:
                c, r = RULE_DUPLICATE
                findings.append(
                    Finding(
                        code,
                        c,
                        r,
                        f"{where}.proves",
                        f"materials.{seen_proves[proves]} already proves {proves!r}",
                        name,
                        (("other", str(seen_proves[proves])),),
                    )
                )
            else:
                seen_proves[proves] = key
    return findings


def lint_catalogue(items: Iterable[Mapping[str, Any]], lexicon: Lexicon) -> list[Finding]:
    return [f for item in items for f in lint_item(item, lexicon)]


# ----------------------------------------------------------------------------- state machines


class AppState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CORRECTION = "correction"
    ACCEPTED = "accepted"
    APPROVED = "approved"
    REFUSED = "refused"
    DELIVERED = "delivered"


APP_TRANSITIONS: dict[str, set[str]] = {
    AppState.DRAFT: {AppState.SUBMITTED},
    AppState.SUBMITTED: {AppState.ACCEPTED, AppState.CORRECTION},
    AppState.CORRECTION: {AppState.SUBMITTED},
    AppState.ACCEPTED: {AppState.APPROVED, AppState.REFUSED},
    AppState.APPROVED: {AppState.DELIVERED},
    AppState.REFUSED: set(),
    AppState.DELIVERED: set(),
}

TASK_TRANSITIONS: dict[str, set[str]] = {
    "waiting": {"pending"},
    "pending": {"suspended", "approved", "refused"},
    "suspended": {"pending"},
    "approved": set(),
    "refused": set(),
}


def check_transition(
    current: str, target: str, table: Mapping[str, set[str]] = APP_TRANSITIONS, *, field_name: str = "status"
) -> None:
    if target not in table.get(current, set()):
        raise ValidationError({field_name: f"cannot go from {current} to {target}"})


# ----------------------------------------------------------------------------- needs


@dataclass
class Need:
    """One line of an application's checklist: materials merged on what they prove."""

    key: str
    name: str
    source: str
    form: str
    copies: int
    is_certificate: bool
    record_type: str
    upload_required: bool
    legal_basis: str
    materials: list[tuple[str, str]] = field(default_factory=list)  # (item code, material key)

    @property
    def fetchable(self) -> bool:
        return self.source in FETCHABLE_SOURCES

    @property
    def commitment(self) -> bool:
        return self.source == "commitment"


def applies(condition: Mapping[str, Iterable[str]] | None, answers: Mapping[str, str]) -> bool:
    if not condition:
        return True
    return all(answers.get(key) in set(values) for key, values in condition.items())


def check_answers(situations: Iterable[Any], answers: Mapping[str, str]) -> None:
    """Every situation answered with one of its options; errors name ``answers.<key>``."""
    errors = {}
    for s in situations:
        allowed = [o["value"] for o in s.options]
        if s.key not in answers:
            errors[f"answers.{s.key}"] = f"answer the question {s.question!r}"
        elif answers[s.key] not in allowed:
            errors[f"answers.{s.key}"] = f"{answers[s.key]!r} is not one of {', '.join(allowed)}"
    if errors:
        raise ValidationError(errors)


def needs_for(items: Iterable[tuple[str, Iterable[Any]]], answers: Mapping[str, str]) -> list[Need]:
    """The exact checklist for (item code, materials) pairs and the answers, merged on ``proves``.

    Two materials that prove the same fact (the applicant's identity, the premises) become one
    need, so a bundle asks for each thing once; the strictest form and the most copies win.
    """
    merged: dict[str, Need] = {}
    for item_code, materials in items:
        for m in materials:
            if m.necessity == "conditional" and not applies(m.condition, answers):
                continue
            key = m.proves or f"{item_code}.{m.key}"
            need = merged.get(key)
            if need is None:
                merged[key] = Need(
                    key=key,
                    name=m.name,
                    source=m.source,
                    form=m.form,
                    copies=m.copies,
                    is_certificate=m.is_certificate,
                    record_type=m.record_type,
                    upload_required=m.upload_required,
                    legal_basis=m.legal_basis,
                    materials=[(item_code, m.key)],
                )
                continue
            need.materials.append((item_code, m.key))
            need.copies = max(need.copies, m.copies)
            need.upload_required = need.upload_required or m.upload_required
            if need.source in FETCHABLE_SOURCES and m.source not in FETCHABLE_SOURCES:
                need.source, need.record_type = m.source, m.record_type
            need.is_certificate = need.is_certificate or m.is_certificate
    return list(merged.values())


def outstanding(
    needs: Iterable[Need], *, uploaded: set[str], fetched: set[str], committed: set[str]
) -> list[Need]:
    """Needs not yet met: an applicant's material needs an upload, a held record a consented fetch
    (or an upload when the holder has none), a commitment the applicant's signed promise."""
    left = []
    for need in needs:
        met = (
            need.key in uploaded
            or (need.fetchable and need.key in fetched)
            or (need.commitment and need.key in committed)
        )
        if not met:
            left.append(need)
    return left


# ----------------------------------------------------------------------------- task graph


def check_acyclic(dependencies: Mapping[str, Iterable[str]]) -> None:
    """Raise if the item dependencies of a bundle loop or name an item outside the bundle."""
    graph = {k: list(v) for k, v in dependencies.items()}
    for node, targets in graph.items():
        for t in targets:
            if t not in graph:
                raise ValidationError({"depends_on": f"{node} depends on {t}, which is not in the bundle"})
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise ValidationError({"depends_on": "dependency cycle: " + " -> ".join([*path, node])})
        state[node] = 1
        for t in graph[node]:
            visit(t, [*path, node])
        state[node] = 2

    for n in graph:
        visit(n, [])


# ----------------------------------------------------------------------------- clocks


def committed_time(days: float, day_length: timedelta) -> timedelta:
    """A committed limit in working days (0.5 = half a day) as working time."""
    return day_length * float(days)


def escalation_level(overdue: timedelta, day_length: timedelta) -> int:
    """0 when on time; 1 once overdue; 2 after one working day overdue; 3 after three."""
    if overdue <= timedelta(0):
        return 0
    if overdue <= day_length:
        return 1
    if overdue <= 3 * day_length:
        return 2
    return 3


BAD_RATING = 2


def opens_rectification(score: int) -> bool:
    return score <= BAD_RATING


def check_score(score: Any) -> int:
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError({"score": "rate the service from 1 (very bad) to 5 (very good)"})
    return score


# ----------------------------------------------------------------------------- identities


def mask_id(number: str) -> str:
    """An ID number as screens and the audit trail show it: the first 3 and last 2 characters."""
    number = number or ""
    if len(number) <= 5:
        return "*" * len(number)
    return f"{number[:3]}{'*' * (len(number) - 5)}{number[-2:]}"
