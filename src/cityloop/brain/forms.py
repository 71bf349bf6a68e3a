"""Forms of the brain's pages.  They only parse: the rules (a reason is required, how long a mute may
last) are the actions', whose refusals land on these forms in the page's language."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label=_("Note (optional)"), required=False, widget=forms.TextInput(attrs={"size": 40})
    )


class MuteForm(forms.Form):
    hours = forms.IntegerField(label=_("Mute for (hours)"), required=False, initial=24)
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.TextInput(attrs={"size": 40}))
