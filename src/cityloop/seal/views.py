"""Pages: the public verify page and documents, the certificate page/PDF, revocation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cityloop.core import throttle
from cityloop.core.doors import uploads
from cityloop.seal import actions, published, queries, rules, verify
from cityloop.seal import render as rendering
from cityloop.seal.forms import RevokeForm, VerifyForm
from cityloop.seal.models import CITY_AUTHORITY

NO_SEAL_YET = "no certificate has been issued yet: the city seal that signs this list comes with the first"

# Checks of pasted or uploaded data per client address and minute (each one parses and may inflate).
VERIFY_POSTS_PER_MINUTE = 20


def verify_page(request):
    result, payload = None, None
    if request.method == "POST" and not throttle.allow(request, "seal-verify", VERIFY_POSTS_PER_MINUTE, 60):
        form = VerifyForm(data={})
        form.full_clean()
        form.errors.clear()
        form.add_error(None, _("Too many checks from your address: wait a minute and try again."))
        return render(request, "seal/verify.html", {"form": form, "result": None}, status=429)
    form = VerifyForm(request.POST, request.FILES) if request.method == "POST" else VerifyForm()
    if request.method == "POST" and uploads.refused(request):
        form.add_error("certificate", uploads.message())
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("certificate")
        if upload is not None:
            payload = verify.extract_payload(upload.read())
            if payload is None:
                form.add_error(
                    "certificate", _("No CityLoop signed data (CLSEAL:…:CLSEAL) was found in this file.")
                )
        else:
            payload = form.cleaned_data["payload"]
        if payload is not None:
            result = verify.verify_text(payload)
    return render(request, "seal/verify.html", {"form": form, "result": result}, status=200)


def keys_json(request):
    return JsonResponse(published.keys_document(), json_dumps_params={"ensure_ascii": False, "indent": 1})


def status_json(request):
    # The city seal signs the list. It is made with the first certificate (or `cityloop seal rotate`),
    # never by opening this page: a GET writes nothing. Before it exists nothing can be revoked.
    key = queries.current_key(CITY_AUTHORITY)
    if key is None:
        return JsonResponse({"detail": NO_SEAL_YET}, status=404)
    return JsonResponse(published.status_list_document(key), json_dumps_params={"ensure_ascii": False})


def _certificate(request, serial):
    try:
        return queries.certificate_for(request.user, serial)
    except PermissionDenied as exc:
        raise Http404(str(exc)) from exc


@login_required
def certificate_list(request):
    certs = queries.for_actor(request.user)[:200]
    return render(request, "seal/list.html", {"certificates": certs})


@login_required
def certificate_page(request, serial):
    cert = _certificate(request, serial)
    context = {
        "cert": cert,
        "qr_svg": rendering.qr_svg(cert.payload),
        "marked": rendering.marked(cert.payload),
        "masked_id": rules.mask_holder_id(cert.holder_id),
        "may_revoke": not cert.is_revoked and queries.may_act_for(request.user, cert.issuer_department),
        "revoke_form": RevokeForm(),
    }
    return render(request, "seal/certificate.html", context)


@login_required
def certificate_pdf(request, serial):
    cert = _certificate(request, serial)
    response = HttpResponse(rendering.pdf_bytes(cert), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{cert.serial}.pdf"'
    return response


@login_required
@require_POST
def revoke(request, serial):
    cert = _certificate(request, serial)
    form = RevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A revocation needs a reason."))
        return redirect(cert)
    try:
        actions.revoke_certificate(cert, reason=form.cleaned_data["reason"], actor=request.user)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, _("Certificate %(serial)s was revoked.") % {"serial": cert.serial})
    return redirect(cert)
