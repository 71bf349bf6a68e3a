from django import forms
from django.utils.translation import gettext_lazy as _

MAX_UPLOAD = 5 * 1024 * 1024
# A certificate's signed data is well under 2,000 characters; the text of a whole certificate page
# is longer, so allow that, but not megabytes.
MAX_PASTE = 50_000


class VerifyForm(forms.Form):
    payload = forms.CharField(
        label=_("Signed data (CL1:…) or the text of a certificate"),
        required=False,
        max_length=MAX_PASTE,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
    )
    certificate = forms.FileField(label=_("…or upload a certificate file (PDF or HTML)"), required=False)

    def clean_certificate(self):
        upload = self.cleaned_data.get("certificate")
        if upload is not None and upload.size > MAX_UPLOAD:
            raise forms.ValidationError(
                _("The file is larger than 5 MB; a CityLoop certificate is far smaller.")
            )
        return upload

    def clean(self):
        data = super().clean()
        if not (data.get("payload") or "").strip() and not data.get("certificate") and not self.errors:
            raise forms.ValidationError(_("Paste the signed data or choose a certificate file."))
        return data


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for revocation"), max_length=500, widget=forms.TextInput(attrs={"size": 60})
    )
