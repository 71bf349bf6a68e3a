"""The citizen's pages: submit without logging in, track with number + last 4 digits, rate, history."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cityloop.core.models import Role
from cityloop.hotline import actions, queries
from cityloop.hotline.forms import FollowUpForm, SubmitForm, TrackForm
from cityloop.hotline.models import Channel, Request
from cityloop.hotline.views_common import apply_errors, current_city

TRACKED = "hotline_tracked"  # session: pks of requests this browser proved it may see
TRACKED_KEEP = 20
# Wrong number/digit pairs allowed per client address in the window before it is asked to wait.
TRACK_FAILURES = 20
TRACK_WINDOW_S = 15 * 60


def _remember(request, req: Request) -> None:
    tracked = [pk for pk in request.session.get(TRACKED, []) if pk != req.pk]
    request.session[TRACKED] = (tracked + [req.pk])[-TRACKED_KEEP:]


def _may_view(request, req: Request) -> bool:
    if req.pk in request.session.get(TRACKED, []):
        return True
    return request.user.is_authenticated and req.citizen_id == request.user.pk


def submit(request):
    city = current_city()
    if request.method == "POST":
        form = SubmitForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            sub = actions.Submission(
                description=data["description"], caller_name=data["caller_name"], caller_phone=data["caller_phone"],
                address=data["address"], lon=data["lon"], lat=data["lat"],
                photos=[(f.name, f.read()) for f in data["photos"]],
                keep_photo_location=data["keep_photo_location"])
            citizen = request.user if request.user.is_authenticated and request.user.role == Role.CITIZEN else None
            key = data["idempotency_key"]
            try:
                req, _created = actions.submit_request(sub, city=city, channel=Channel.WEB, citizen=citizen,
                                                       actor=citizen, idempotency=("web-form", key) if key else None)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                _remember(request, req)
                request.session["hotline_submitted"] = req.tracking_no
                return redirect("hotline:submitted")
    else:
        form = SubmitForm()
    return render(request, "hotline/submit.html", {"form": form, "city": city})


def submitted(request):
    number = request.session.get("hotline_submitted")
    if not number:
        return redirect("hotline:submit")
    return render(request, "hotline/submitted.html", {"tracking_no": number})


def _client(request) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


def track(request):
    status = 200
    if request.method == "POST":
        form = TrackForm(request.POST)
        failures_key = f"hotline:track-failures:{_client(request)}"
        if cache.get(failures_key, 0) >= TRACK_FAILURES:
            form.is_valid()
            form.add_error(None, _("Too many attempts. Please wait a few minutes and try again."))
            status = 429
        elif form.is_valid():
            req = queries.find_tracked(form.cleaned_data["tracking_no"], form.cleaned_data["last4"])
            if req is not None:
                _remember(request, req)
                return redirect("hotline:status", tracking_no=req.tracking_no)
            cache.add(failures_key, 0, TRACK_WINDOW_S)
            try:
                cache.incr(failures_key)
            except ValueError:  # expired between add and incr
                cache.set(failures_key, 1, TRACK_WINDOW_S)
            # One message for a wrong number and for wrong digits: nothing to learn by guessing.
            form.add_error(None, _("No request matches this tracking number and these digits."))
            status = 404
    else:
        form = TrackForm(initial={"tracking_no": request.GET.get("no", "")})
    return render(request, "hotline/track.html", {"form": form}, status=status)


def status_page(request, tracking_no, rate_form=None):
    req = Request.objects.filter(tracking_no=tracking_no).first()
    if req is None or not _may_view(request, req):
        return HttpResponseRedirect(f"{reverse('hotline:track')}?no={tracking_no}")
    can_rate = queries.awaits_follow_up(req)
    return render(request, "hotline/status.html", {
        "req": req, "timeline": queries.public_timeline(req),
        "can_rate": can_rate, "rate_form": rate_form or (FollowUpForm() if can_rate else None),
        "follow_ups": req.follow_ups.order_by("at"),
    }, status=400 if rate_form is not None else 200)


@require_POST
def rate(request, tracking_no):
    req = get_object_or_404(Request, tracking_no=tracking_no)
    if not _may_view(request, req):
        raise PermissionDenied("track the request with its number and your phone digits first")
    form = FollowUpForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        actor = request.user if request.user.is_authenticated else None
        try:
            with transaction.atomic():
                actions.record_follow_up(req, resolved=data["resolved"] == "yes", satisfaction=data["satisfaction"],
                                         comment=data["comment"], channel="web", actor=actor,
                                         citizen_verified=req.pk in request.session.get(TRACKED, []))
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            from django.contrib import messages

            messages.success(request, _("Thank you. Your answer has been recorded."))
            return redirect("hotline:status", tracking_no=req.tracking_no)
    return status_page(request, tracking_no, rate_form=form)


@login_required
def mine(request):
    if request.user.role != Role.CITIZEN:
        return redirect("hotline:search")
    requests = queries.requests_for(request.user).select_related("category", "street").order_by("-created_at")
    return render(request, "hotline/mine.html", {"requests": requests[:200]})
