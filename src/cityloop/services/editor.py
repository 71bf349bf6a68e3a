"""The catalogue editor's structured form: an item's fields, its situations (情形) and its materials (材料).

Plain Django forms, one per row, so the page works without JavaScript: the page offers blank rows to
add a situation or a material (a button re-renders the page with more), a checkbox removes a row. The
form builds the same dict as ``catalogue.editable_dict`` and the view hands it to
``actions.update_draft``, so validation and the audit trail stay in the action. The linter's findings
and the action's refusals are placed next to the field or row they name (``materials.<key>.<field>``,
``situations[i]``, ``legal_basis``), in the page's language; internal keys are never shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cityloop.services import rules
from cityloop.services.models import MaterialForm, MaterialSource, Necessity, OnlineDepth

MAX_ROWS = 200  # rows a posted form may claim; more is a forged form, not an item
BLANK_SITUATIONS, BLANK_MATERIALS = 1, 2  # blank rows offered under the existing ones
MORE = 2  # rows added by "more rows"
# numbers in text boxes: a browser's number box shows nothing for "两天", and a refused value must come
# back as it was typed
DECIMAL = forms.TextInput(attrs={"inputmode": "decimal"})
WHOLE = forms.TextInput(attrs={"inputmode": "numeric"})


class _Row(forms.Form):
    use_required_attribute = False  # a blank row is skipped, so the browser must not insist on it

    text_fields: tuple[str, ...] = ()

    def is_blank(self) -> bool:
        """Nothing typed into any text field: the row is an unused blank one."""
        if not self.is_bound:
            return not any(str(self.initial.get(n) or "").strip() for n in self.text_fields)
        return not any(str(self.data.get(self.add_prefix(n), "")).strip() for n in self.text_fields)

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def removed(self) -> bool:
        return self.is_bound and self.data.get(self.add_prefix("remove")) in ("on", "true", "1")


def _lines(value: str) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


class ItemForm(_Row):
    name = forms.CharField(label=_("Name"), max_length=200)
    name_en = forms.CharField(label=_("Name in English"), max_length=200, required=False)
    legal_basis = forms.CharField(
        label=_("Legal basis (law and article)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    conditions = forms.CharField(
        label=_("Acceptance conditions (one per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    steps = forms.CharField(
        label=_("Process steps (one per line)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    legal_days = forms.DecimalField(
        label=_("Legal time limit (working days)"),
        min_value=0,
        max_digits=5,
        decimal_places=1,
        widget=DECIMAL,
    )
    committed_days = forms.DecimalField(
        label=_("Committed time limit (working days)"),
        min_value=0,
        max_digits=5,
        decimal_places=1,
        widget=DECIMAL,
    )
    fee = forms.DecimalField(
        label=_("Fee (yuan)"), min_value=0, max_digits=10, decimal_places=2, widget=DECIMAL
    )
    visits = forms.IntegerField(label=_("On-site visits"), min_value=0, max_value=32767, widget=WHOLE)
    online_depth = forms.TypedChoiceField(label=_("Online depth"), choices=OnlineDepth.choices, coerce=int)
    result_title = forms.CharField(label=_("Result document"), max_length=200, required=False)

    @classmethod
    def initial_from(cls, data: dict[str, Any]) -> dict[str, Any]:
        initial = {k: data.get(k) for k in cls.base_fields}
        for k in ("conditions", "steps"):
            initial[k] = "\n".join(str(x) for x in data.get(k) or [])
        for k in ("legal_days", "committed_days", "fee"):
            initial[k] = _plain(data.get(k, 0))
        return initial

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.cleaned_data)
        for k in ("conditions", "steps"):
            d[k] = _lines(d[k])
        for k in ("legal_days", "committed_days", "fee"):
            d[k] = float(d[k])
        return d


def _plain(value: Any) -> str:
    """2.0 → "2", 0.5 → "0.5": a number as a person types it."""
    number = Decimal(str(value or 0))
    return format(number.quantize(Decimal(1)) if number == number.to_integral() else number.normalize(), "f")


OPTION_LINE = re.compile(r"^\s*([^|]+?)\s*(?:\|\s*([^|]*?)\s*)?(?:\|\s*([^|]*?)\s*)?$")


class SituationForm(_Row):
    text_fields = ("key", "question", "question_en", "options")

    key = forms.SlugField(label=_("Key (letters, digits, -, _)"), max_length=40)
    question = forms.CharField(label=_("Question"), max_length=300)
    question_en = forms.CharField(label=_("Question in English"), max_length=300, required=False)
    options = forms.CharField(
        label=_("Answers, one per line: value | 中文 | English"), widget=forms.Textarea(attrs={"rows": 3})
    )
    remove = forms.BooleanField(label=_("Remove this situation"), required=False)

    @classmethod
    def initial_from(cls, data: dict[str, Any]) -> dict[str, Any]:
        lines = []
        for o in data.get("options") or []:
            parts = [str(o.get("value", "")), str(o.get("label", "")), str(o.get("label_en", ""))]
            while len(parts) > 1 and not parts[-1]:
                parts.pop()
            lines.append(" | ".join(parts))
        return {
            **{k: data.get(k, "") for k in ("key", "question", "question_en")},
            "options": "\n".join(lines),
        }

    def clean_options(self) -> list[dict[str, str]]:
        options = []
        for n, line in enumerate(_lines(self.cleaned_data["options"]), start=1):
            match = OPTION_LINE.match(line)
            if not match:
                raise ValidationError(
                    gettext("line %(n)s: write value | 中文 | English") % {"n": n}, code="option"
                )
            value, label, label_en = (g or "" for g in match.groups())
            options.append(
                {"value": value, "label": label or value, **({"label_en": label_en} if label_en else {})}
            )
        if not options:
            raise ValidationError(gettext("a situation needs at least one answer"), code="options")
        values = [o["value"] for o in options]
        if len(set(values)) != len(values):
            raise ValidationError(gettext("each answer's value must be different"), code="options")
        return options

    def to_dict(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "key": d["key"],
            "question": d["question"],
            "question_en": d["question_en"],
            "options": d["options"],
        }


CONDITION_LINE = re.compile(r"^\s*([\w-]+)\s*[:：=]\s*(.+)$")


class MaterialFormRow(_Row):
    text_fields = ("key", "name", "name_en", "legal_basis", "template", "record_type", "proves", "condition")

    key = forms.SlugField(label=_("Key (letters, digits, -, _)"), max_length=40)
    name = forms.CharField(label=_("Name"), max_length=200)
    name_en = forms.CharField(label=_("Name in English"), max_length=200, required=False)
    legal_basis = forms.CharField(label=_("Legal basis (law and article)"), max_length=300, required=False)
    form = forms.ChoiceField(label=_("Form"), choices=MaterialForm.choices, initial=MaterialForm.ELECTRONIC)
    copies = forms.IntegerField(label=_("Copies"), min_value=1, max_value=32767, initial=1, widget=WHOLE)
    necessity = forms.ChoiceField(label=_("Necessity"), choices=Necessity.choices, initial=Necessity.REQUIRED)
    condition = forms.CharField(
        label=_("Applies when (one situation per line: key: answer, answer)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    source = forms.ChoiceField(
        label=_("Source"), choices=MaterialSource.choices, initial=MaterialSource.APPLICANT
    )
    record_type = forms.CharField(label=_("Record type the government holds"), max_length=40, required=False)
    upload_required = forms.BooleanField(label=_("The applicant uploads it"), required=False, initial=True)
    template = forms.CharField(label=_("Template or how to fill it in"), max_length=300, required=False)
    proves = forms.CharField(label=_("Fact it proves (bundles merge on it)"), max_length=80, required=False)
    is_certificate = forms.BooleanField(label=_("A certificate issued by an authority"), required=False)
    remove = forms.BooleanField(label=_("Remove this material"), required=False)

    @classmethod
    def initial_from(cls, data: dict[str, Any]) -> dict[str, Any]:
        initial = {k: data.get(k) for k in cls.base_fields if k not in ("condition", "remove")}
        initial["condition"] = "\n".join(
            f"{key}: {', '.join(map(str, values))}" for key, values in (data.get("condition") or {}).items()
        )
        return initial

    def clean_condition(self) -> dict[str, list[str]]:
        condition: dict[str, list[str]] = {}
        for n, line in enumerate(_lines(self.cleaned_data["condition"]), start=1):
            match = CONDITION_LINE.match(line)
            values = [v.strip() for v in re.split(r"[,，、]", match.group(2)) if v.strip()] if match else []
            if not match or not values:
                raise ValidationError(
                    gettext("line %(n)s: write situation key: answer, answer") % {"n": n}, code="condition"
                )
            condition[match.group(1)] = values
        return condition

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "remove"}


# ----------------------------------------------------------------------------- the linter's words


RULE_TITLES = {
    "CL101": _("Catch-all “other materials”"),
    "CL102": _("“Whatever the law requires”"),
    "CL103": _("Vague “related materials”"),
    "CL104": _("Open-ended list"),
    "CL105": _("Left to the department's discretion"),
    "CL201": _("Material without a legal basis"),
    "CL202": _("Item without a legal article"),
    "CL301": _("Upload of a material the government holds"),
    "CL302": _("Upload of a record the registry holds"),
    "CL401": _("Duplicate material"),
}
RULE_MESSAGES = {
    "CL101": _("a catch-all “other materials” clause leaves the checklist open; list each material"),
    "CL102": _(
        "“whatever the law requires” is not something an applicant can act on; "
        "cite the article and list what it asks for"
    ),
    "CL103": _("“related materials” does not say which document; name it"),
    "CL104": _("an open-ended list (“等材料”, “etc.”) leaves the applicant guessing; list every item"),
    "CL105": _(
        "“whatever the department asks for” gives the window unlimited discretion; state the requirement"
    ),
    "CL201": _("every material needs the law and article that requires it"),
    "CL202": _("the item must cite a law and its article (第…条)"),
    "CL301": _("the government holds this (%(source)s): fetch it instead of asking for an upload"),
    "CL302": _(
        "the registry holds these records (%(record)s): set the source to an e-licence or data sharing"
    ),
    "CL401": _("the same material is already listed: %(other)s"),
}


@dataclass
class Note:
    """One linter finding as the page shows it: where, which rule, what to do."""

    where: str  # the human name of the field ("材料 2 «身份证» · 法律依据")
    anchor: str  # the id of the field it is about
    code: str
    title: str
    message: str
    text: str = ""


@dataclass
class Placed:
    """A form and, per field, the findings and errors shown next to it."""

    form: _Row
    number: int = 0
    checked: bool = False  # validated on this request, so its errors are shown
    errors: list[str] = field(default_factory=list)  # the row's own errors (not about one field)
    notes: list[Note] = field(default_factory=list)  # the row's findings not about one of its fields
    by_field: dict[str, list[Note]] = field(default_factory=dict)
    uses: list[str] = field(default_factory=list)  # a situation's materials that depend on its answers

    def fields(self) -> list[tuple[Any, list[Note]]]:
        return [(self.form[name], self.by_field.get(name, [])) for name in self.form.fields]


def _material_label(rows: list[Placed], key: str) -> str:
    for r in rows:
        if _row_key(r.form) == key:
            name = str(_value(r.form, "name") or key)
            return gettext("Material %(n)s «%(name)s»") % {"n": r.number, "name": name}
    return gettext("another material")


def _value(form: forms.Form, name: str) -> Any:
    return form.data.get(form.add_prefix(name)) if form.is_bound else form.initial.get(name)


def _row_key(form: forms.Form) -> str:
    return str(_value(form, "key") or "").strip()


def translate_finding(f: rules.Finding, materials: list[Placed]) -> tuple[str, str]:
    """(title, message) of a finding in the page's language; a rule a custom lexicon adds keeps its own."""
    if f.code not in RULE_TITLES:
        return f.rule, f.message
    values = dict(f.values)  # what the rule named, given by the linter (not read out of its English)
    params: dict[str, str] = {}
    if f.code == "CL301":
        params["source"] = str(dict(MaterialSource.choices).get(values.get("source", ""), ""))
    elif f.code == "CL302":
        params["record"] = values.get("record", "")
    elif f.code == "CL401":
        params["other"] = _material_label(materials, values["other"]) if "other" in values else ""
    return str(RULE_TITLES[f.code]), str(RULE_MESSAGES[f.code]) % params if params else str(
        RULE_MESSAGES[f.code]
    )


# ----------------------------------------------------------------------------- the page


@dataclass
class Editor:
    item: Placed
    situations: list[Placed]
    materials: list[Placed]
    top_errors: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    errors_shown: bool = False

    def error_list(self) -> list[tuple[str, str, str]]:
        """(anchor, where, message) of every error on the page, for the summary at the top."""
        found = []
        rows = [
            (self.item, gettext("The item")),
            *self._named(self.situations, "Situation"),
            *self._named(self.materials, "Material"),
        ]
        for row, name in rows:
            found += [(str(row.form.prefix), name, e) for e in row.errors]
            for bf, _notes in row.fields():
                found += [(bf.auto_id, f"{name} · {bf.label}", e) for e in bf.errors]
        return found

    @staticmethod
    def _named(rows: list[Placed], kind: str) -> list[tuple[Placed, str]]:
        label = gettext("Situation %(n)s") if kind == "Situation" else gettext("Material %(n)s")
        return [(r, label % {"n": r.number}) for r in kept(rows)]


def _place(forms_: Sequence[_Row]) -> list[Placed]:
    return [Placed(form=f, number=i + 1) for i, f in enumerate(forms_)]


def for_draft(data: dict[str, Any]) -> Editor:
    """Unbound forms showing a stored draft (``catalogue.editable_dict``), with blank rows under it."""
    situations = [
        SituationForm(prefix=f"s-{i}", initial=SituationForm.initial_from(s))
        for i, s in enumerate(data.get("situations") or [])
    ]
    situations += [SituationForm(prefix=f"s-{len(situations) + i}") for i in range(BLANK_SITUATIONS)]
    materials = [
        MaterialFormRow(prefix=f"m-{i}", initial=MaterialFormRow.initial_from(m))
        for i, m in enumerate(data.get("materials") or [])
    ]
    materials += [MaterialFormRow(prefix=f"m-{len(materials) + i}") for i in range(BLANK_MATERIALS)]
    return _link(
        Editor(
            item=Placed(ItemForm(prefix="item", initial=ItemForm.initial_from(data))),
            situations=_place(situations),
            materials=_place(materials),
        )
    )


def _link(editor: Editor) -> Editor:
    """Under each situation, the materials that apply only for some of its answers (their condition)."""
    by_key = {_row_key(r.form): r for r in editor.situations if _row_key(r.form)}
    for m in editor.materials:
        for line in _lines(str(_value(m.form, "condition") or "")):
            match = CONDITION_LINE.match(line)
            if match and match.group(1) in by_key:
                label = _material_label(editor.materials, _row_key(m.form))
                by_key[match.group(1)].uses.append(f"{label}: {match.group(2).strip()}")
    return editor


def _count(post, name: str) -> int:
    try:
        return max(0, min(int(post.get(name, 0)), MAX_ROWS))
    except (TypeError, ValueError):
        return 0


def from_post(post, *, more: str = "") -> Editor:
    """The forms as posted; ``more`` ("situations" or "materials") adds blank rows under them."""
    situations: list[_Row] = [SituationForm(post, prefix=f"s-{i}") for i in range(_count(post, "s-TOTAL"))]
    materials: list[_Row] = [MaterialFormRow(post, prefix=f"m-{i}") for i in range(_count(post, "m-TOTAL"))]
    # a blank posted row is offered again unbound, so its defaults (one copy, uploaded) come back
    situations = [SituationForm(prefix=f.prefix) if f.is_blank() else f for f in situations]
    materials = [MaterialFormRow(prefix=f.prefix) if f.is_blank() else f for f in materials]
    if more == "situations" or not situations:
        situations += [SituationForm(prefix=f"s-{len(situations) + i}") for i in range(MORE)]
    if more == "materials" or not materials:
        materials += [MaterialFormRow(prefix=f"m-{len(materials) + i}") for i in range(MORE)]
    return _link(
        Editor(
            item=Placed(ItemForm(post, prefix="item")),
            situations=_place(situations),
            materials=_place(materials),
        )
    )


def kept(rows: list[Placed]) -> list[Placed]:
    """The rows that go into the item: not blank, not ticked for removal."""
    return [r for r in rows if r.form.is_bound and not r.form.is_blank() and not r.form.removed()]


def build(editor: Editor) -> dict[str, Any] | None:
    """The dict for ``update_draft``, or None when a field is invalid (the errors are on the forms)."""
    editor.errors_shown = True
    rows = [editor.item, *kept(editor.situations), *kept(editor.materials)]
    for r in rows:
        r.checked = True
    if not all([r.form.is_valid() for r in rows]):
        return None
    return {
        **editor.item.form.to_dict(),
        "situations": [r.form.to_dict() for r in kept(editor.situations)],
        "materials": [r.form.to_dict() for r in kept(editor.materials)],
    }


INDEXED = re.compile(r"^(situations|materials)\[(\d+)\]$")
KEYED = re.compile(r"^materials\.([\w-]+)\.(\w+)$")


def place_refusal(editor: Editor, exc: ValidationError) -> None:
    """Put ``update_draft``'s refusal next to the field or row it names (translated where it can be)."""
    editor.errors_shown = True
    situations, materials = kept(editor.situations), kept(editor.materials)
    found = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    for name, messages in found.items():
        for message in messages:  # update_draft words them in the page's language
            indexed, keyed = INDEXED.match(name), KEYED.match(name)
            if name in editor.item.form.fields:
                editor.item.form.add_error(name, message)
            elif indexed:
                rows = situations if indexed.group(1) == "situations" else materials
                i = int(indexed.group(2))
                if i < len(rows):
                    rows[i].errors.append(message)
                else:
                    editor.top_errors.append(message)
            elif keyed and any(_row_key(r.form) == keyed.group(1) for r in materials):
                for r in materials:
                    if _row_key(r.form) == keyed.group(1):
                        if keyed.group(2) in r.form.fields:
                            r.form.add_error(keyed.group(2), message)
                        else:
                            r.errors.append(message)
            else:
                editor.top_errors.append(message)


def place_findings(editor: Editor, findings: list[rules.Finding]) -> None:
    """Each linter finding next to its field (and all of them in the summary at the top)."""
    item_form = editor.item.form
    for f in findings:
        title, message = translate_finding(f, editor.materials)
        keyed = KEYED.match(f.field)
        target, name = editor.item, f.field
        where = ""
        if f.field.startswith("conditions["):
            name = "conditions"
            line = int(re.sub(r"\D", "", f.field) or 0) + 1
            where = gettext("%(field)s, line %(n)s") % {
                "field": item_form.fields["conditions"].label,
                "n": line,
            }
        elif keyed:
            rows = [r for r in editor.materials if _row_key(r.form) == keyed.group(1)]
            if rows:
                target, name = rows[0], keyed.group(2)
                label = target.form.fields[name].label if name in target.form.fields else name
                where = f"{_material_label(editor.materials, keyed.group(1))} · {label}"
        if not where:
            where = str(item_form.fields[name].label) if name in item_form.fields else gettext("the item")
        note = Note(
            where=where,
            anchor=target.form[name].auto_id if name in target.form.fields else "item-fields",
            code=f.code,
            title=title,
            message=message,
            text=f.text,
        )
        editor.notes.append(note)
        if name in target.form.fields:
            target.by_field.setdefault(name, []).append(note)
        else:
            target.notes.append(note)
