"""The forms of the notification pages: a person's preferences and the outbox's filters."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from cityloop.notify import texts
from cityloop.notify.models import Status

# Every channel a message can go out on (the outbox's filter and its labels); "inbox" is the in-app one.
CHANNELS = {
    "email": _("E-mail"),
    "sms": _("Text message"),
    "wecom": _("WeCom robot"),
    "dingtalk": _("DingTalk robot"),
    "webhook": _("Webhook"),
    "inbox": _("In-app"),
}


class PreferencesForm(forms.Form):
    # Field names are save_preferences' keywords: its refusals land next to the field they name.
    language = forms.ChoiceField(label=_("Language of your messages"), choices=settings.LANGUAGES)
    email = forms.BooleanField(label=_("Send me e-mail"), required=False)
    sms = forms.BooleanField(label=_("Send me text messages"), required=False)
    quiet_from = forms.TimeField(
        label=_("Quiet hours from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_until = forms.TimeField(
        label=_("Quiet hours until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    digest = forms.BooleanField(
        label=_("One daily digest instead of each message that is not urgent"), required=False
    )


def _choices(pairs) -> list[tuple[str, object]]:
    return [("", _("all")), *pairs]


class OutboxFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=_choices(Status.choices))
    channel = forms.ChoiceField(
        label=_("Channel"),
        required=False,
        choices=_choices((k, v) for k, v in CHANNELS.items() if k != "inbox"),
    )
    event = forms.ChoiceField(
        label=_("Event"), required=False, choices=_choices((e, e) for e in sorted(texts.TEXTS))
    )
    about = forms.CharField(label=_("Tracking number or id"), required=False, max_length=40, strip=True)

    def filters(self) -> dict[str, str]:
        """The valid filters (an invalid value filters nothing rather than failing the page)."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in self.fields}
