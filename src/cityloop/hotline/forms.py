"""The hotline's forms: they parse and label; the rules live in the actions, whose errors land here."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from cityloop.hotline.intake import access
from cityloop.hotline.models import Channel, RequestKind, Status, Urgency

MAX_PHOTOS = 5
MAX_PHOTO_BYTES = 10 * 1024 * 1024
SATISFACTION_CHOICES = [
    ("satisfied", _("Satisfied")),
    ("basic", _("Basically satisfied")),
    ("unsatisfied", _("Unsatisfied")),
]
RESOLVED_CHOICES = [("yes", _("Resolved")), ("no", _("Not resolved"))]
OUTCOME_CHOICES = [
    ("resolved", _("Resolved")),
    ("partial", _("Partly resolved")),
    ("explained", _("Explained to the citizen")),
    ("unresolvable", _("Cannot be resolved")),
    ("fixed", _("Fixed")),
]
# Said under every text a unit or dispatcher writes that the citizen never sees (issue 10 #9).
STAFF_ONLY = _("Internal: only staff see this; it never reaches the citizen's status page or Open311.")
CONTACT_CHANNELS = [
    ("phone", _("Phone call")),
    ("visit", _("Visit")),
    ("sms", _("Text message")),
    ("email", _("E-mail")),
]


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    widget = MultiplePhotoInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        if len(files) > MAX_PHOTOS:
            raise forms.ValidationError(_("At most %(n)d photos.") % {"n": MAX_PHOTOS})
        cleaned = [super(PhotosField, self).clean(f, initial) for f in files]
        for upload in cleaned:
            # Refused before reading: a 2 GB "photo" must not be pulled into memory to be judged.
            if upload.size > MAX_PHOTO_BYTES:
                raise forms.ValidationError(_("%(name)s is over the 10 MB limit.") % {"name": upload.name})
        return cleaned


def category_choices(categories) -> list:
    """A city's hundreds of categories grouped under their first level (<optgroup>), so a dispatcher
    without JavaScript finds 供水 › 停水 by its group instead of scrolling 650 options."""
    categories = list(categories)
    tops = {c.code: c for c in categories if "." not in c.code}
    groups: dict[str, list] = {}
    for c in categories:
        top = c.code.split(".", 1)[0]
        groups.setdefault(top, []).append((c.code, f"{c.code} {c.label}"))
    return [(f"{top} {tops[top].label}" if top in tops else top, options) for top, options in groups.items()]


class WhatWhereForm(forms.Form):
    """What happened and where: shared by the citizen's form and the operator's."""

    kind = forms.ChoiceField(
        label=_("Type of request"),
        choices=RequestKind.choices,
        initial=RequestKind.HELP,
        required=False,  # the page always sends the ticked one; a script that leaves it out files it untyped
        widget=forms.RadioSelect,
    )
    description = forms.CharField(
        label=_("What happened"), widget=forms.Textarea(attrs={"rows": 5}), max_length=4000
    )
    address = forms.CharField(
        label=_("Where (address)"),
        max_length=300,
        required=False,
        help_text=_("A street address, a landmark or a community name."),
    )
    lon = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180)
    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90)
    caller_name = forms.CharField(label=_("Your name"), max_length=100, required=False)
    caller_phone = forms.CharField(
        label=_("Phone"),
        max_length=32,
        help_text=_("Needed to reach you; your access code and the rating code are sent to it."),
    )

    def clean(self):
        data = super().clean()
        if (
            not (data.get("address") or "").strip()
            and not data.get("street")
            and data.get("lon") is None
            and data.get("lat") is None
            and "lon" not in self.errors
            and "lat" not in self.errors
        ):
            self.add_error("address", _("Say where it happened: an address, or longitude and latitude."))
        return data


def street_choices(streets) -> list:
    """The city's streets grouped under their district (<optgroup>), for a citizen without a map."""
    groups: dict[str, list] = {}
    for street in streets:
        district = street.parent.label if street.parent is not None else ""
        groups.setdefault(district, []).append((street.code, street.label))
    return [(district, options) for district, options in groups.items()]


# The pickers a small script turns into type-to-find boxes (static/hotline/typeahead.js); without
# JavaScript they stay the grouped selects they are.
TYPEAHEAD = {"data-typeahead": ""}


class SubmitForm(WhatWhereForm):
    street = forms.ChoiceField(
        label=_("Street (街道)"),
        required=False,
        help_text=_("If you know it; a point on the map or the address is enough."),
    )
    category = forms.ChoiceField(
        label=_("Category"),
        required=False,
        help_text=_("If you know it; the dispatcher chooses one otherwise."),
        widget=forms.Select(attrs=TYPEAHEAD),
    )
    photos = PhotosField(
        label=_("Photos"), required=False, help_text=_("JPEG, PNG or WebP, at most 10 MB each.")
    )
    keep_photo_location = forms.BooleanField(
        label=_("Keep the photo's location"),
        required=False,
        help_text=_("Unless ticked, the GPS position stored inside the photo is removed."),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)
    field_order = ["kind", "category", "description", "address", "street", "lon", "lat"]

    def __init__(self, *args, categories=(), streets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["street"].choices = [("", "—")] + street_choices(streets)
        self.fields["category"].choices = [("", _("— not sure —"))] + category_choices(categories)
        if not self.is_bound:
            # One key per rendered form: a double-submit of this page returns the first request.
            self.initial["idempotency_key"] = uuid.uuid4().hex


class IntakeForm(WhatWhereForm):
    category = forms.ChoiceField(label=_("Category"), required=False, widget=forms.Select(attrs=TYPEAHEAD))
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.NORMAL)
    complex = forms.BooleanField(label=_("Complex case"), required=False)
    confidential = forms.BooleanField(
        label=_("Confidential caller"),
        required=False,
        help_text=_("Hides the caller from everyone but the dispatchers."),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["caller_name"].label = _("Caller's name")
        self.fields["caller_phone"].label = _("Caller's phone")
        self.fields["caller_phone"].help_text = ""
        self.fields["category"].choices = [("", _("— not chosen (use the suggestion) —"))] + category_choices(
            categories
        )
        if not self.is_bound:
            self.initial["idempotency_key"] = uuid.uuid4().hex


def _access_code_field(label):
    return forms.CharField(
        label=label,
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )


class TrackForm(forms.Form):
    tracking_no = forms.CharField(
        label=_("Tracking number"), max_length=20, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    code = _access_code_field(_("Access code"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = _(
            "The 10 letters and digits you were given when you reported the "
            "problem (on the confirmation page and by text message)."
        )

    def clean_code(self):
        code = self.cleaned_data["code"]
        if not access.is_well_formed(code):
            raise forms.ValidationError(_("An access code has 10 letters and digits, e.g. K7P2M-9XQ4T."))
        return access.normalise(code)


class FollowUpForm(forms.Form):
    resolved = forms.ChoiceField(
        label=_("Was the problem resolved?"), choices=RESOLVED_CHOICES, widget=forms.RadioSelect
    )
    satisfaction = forms.ChoiceField(
        label=_("How satisfied are you?"), choices=SATISFACTION_CHOICES, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class RevealForm(forms.Form):
    """Why the caller's contact is needed: the action refuses an empty reason and the audit keeps it."""

    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("reason (recorded)")}),
    )


class RateByCodeForm(FollowUpForm):
    """The follow-up form for a citizen without an account: the one-time rating code sent after the reply."""

    code = _access_code_field(_("Rating code"))
    field_order = ["code", "resolved", "satisfaction", "comment"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = _("Sent to your phone when the request was answered; it works once.")

    def clean_code(self):
        code = self.cleaned_data["code"]
        if not access.is_well_formed(code):
            raise forms.ValidationError(_("A rating code has 10 letters and digits."))
        return access.normalise(code)


class UnitChoiceField(forms.ChoiceField):
    """A street or a department, as ``street:<pk>`` / ``department:<pk>``."""

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.choices = [("", "—")] + list(units)


class ClassifyForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), widget=forms.Select(attrs=TYPEAHEAD))

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices(categories)


class DispatchForm(forms.Form):
    lead = UnitChoiceField(label=_("Lead unit (receives first)"), widget=forms.Select(attrs=TYPEAHEAD))
    others = forms.MultipleChoiceField(
        label=_("Also send to"), required=False, widget=forms.SelectMultiple(attrs={"size": 6, **TYPEAHEAD})
    )
    note = forms.CharField(label=_("Note to the units"), required=False, max_length=500, help_text=STAFF_ONLY)

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead"].choices = [("", "—")] + list(units)
        self.fields["others"].choices = list(units)


class ArbitrationForm(forms.Form):
    unit = UnitChoiceField(label=_("Unit that must handle it"), widget=forms.Select(attrs=TYPEAHEAD))
    decision = forms.CharField(
        label=_("Reason for the decision"), widget=forms.Textarea(attrs={"rows": 2}), help_text=STAFF_ONLY
    )

    def __init__(self, *args, units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [("", "—")] + list(units)


class ExtensionDecisionForm(forms.Form):
    approve = forms.ChoiceField(
        label=_("Decision"), choices=[("yes", _("Approve")), ("no", _("Refuse"))], widget=forms.RadioSelect
    )
    note = forms.CharField(
        label=_("Note (needed to refuse)"), required=False, max_length=500, help_text=STAFF_ONLY
    )


class ReturnForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for returning"), widget=forms.Textarea(attrs={"rows": 2}), help_text=STAFF_ONLY
    )


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Progress note"), widget=forms.Textarea(attrs={"rows": 2}))
    public = forms.BooleanField(
        label=_("Show to the citizen"),
        required=False,
        help_text=_(
            "Ticked, the citizen sees this note on the public status page (and Open311 "
            "publishes it); unticked, only staff see it."
        ),
    )


class ContactForm(forms.Form):
    channel = forms.ChoiceField(label=_("How"), choices=CONTACT_CHANNELS)
    summary = forms.CharField(
        label=_("What was agreed"), widget=forms.Textarea(attrs={"rows": 2}), help_text=STAFF_ONLY
    )


class ExtensionForm(forms.Form):
    days = forms.IntegerField(label=_("Extra working days"), min_value=1, max_value=30)
    reason = forms.CharField(
        label=_("Reason for the extension"), widget=forms.Textarea(attrs={"rows": 2}), help_text=STAFF_ONLY
    )


class ReplyForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=OUTCOME_CHOICES)
    text = forms.CharField(
        label=_("Reply to the citizen"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The citizen sees this reply on the public status page."),
    )
    photos = PhotosField(
        label=_("Photos of the finished work"),
        required=False,
        help_text=_("JPEG, PNG or WebP, at most 10 MB each; the location inside them is removed."),
    )


ORDER_FORMS = {
    "return": ReturnForm,
    "note": NoteForm,
    "contact": ContactForm,
    "extension": ExtensionForm,
    "reply": ReplyForm,
}


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Text or tracking number"), required=False, max_length=200)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any"))] + Status.choices)
    category = forms.ChoiceField(label=_("Category"), required=False)
    district = forms.ChoiceField(label=_("District"), required=False)
    street = forms.ChoiceField(label=_("Street"), required=False)
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("Any"))] + Channel.choices
    )
    since = forms.DateField(
        label=_("From (date)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To (date, inclusive)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, categories=(), districts=(), streets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("Any"))] + category_choices(categories)
        self.fields["district"].choices = [("", _("Any"))] + [(d.code, d.label) for d in districts]
        self.fields["street"].choices = [("", _("Any"))] + [(s.code, s.label) for s in streets]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", _("The end date is before the start date."))
        return data


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Call-centre CSV file (UTF-8)"))
