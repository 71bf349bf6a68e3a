"""The citizen's pages: submit without logging in, track with number + access code, rate by code, history."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cityloop.core.doors import uploads
from cityloop.core.doors.forms import apply_errors, run_action
from cityloop.core.permissions import Role
from cityloop.hotline import actions, queries
from cityloop.hotline.forms import FollowUpForm, RateByCodeForm, SubmitForm, TrackForm
from cityloop.hotline.intake import access, throttle
from cityloop.hotline.intake.views_nearby import nearby_context
from cityloop.hotline.models import Channel, Request
from cityloop.hotline.views_common import categories_of, current_city
from cityloop.org import queries as org_queries

TRACKED = "hotline_tracked"  # session: pks of requests this browser proved it may see
SUBMITTED = "hotline_submitted"  # session: the last submit's number, and its access code until shown once
TRACKED_KEEP = 20
# Wrong number/code pairs allowed per client address, and per tracking number, before a pause.
TRACK_FAILURES = 20
TRACK_WINDOW_S = 15 * 60


def _remember(request, req: Request) -> None:
    tracked = [pk for pk in request.session.get(TRACKED, []) if pk != req.pk]
    request.session[TRACKED] = (tracked + [req.pk])[-TRACKED_KEEP:]


def _may_view(request, req: Request) -> bool:
    if req.pk in request.session.get(TRACKED, []):
        return True
    return request.user.is_authenticated and req.citizen_id == request.user.pk


def _is_staff(user) -> bool:
    return user.is_authenticated and (user.is_superuser or user.role != Role.CITIZEN)


SUBMIT_WINDOW_S = 3600


def submit(request):
    city = current_city()
    if request.method == "POST" and "nearby" in request.POST:
        # "Show nearby requests" without JavaScript: the same form, values kept, with the list; nothing filed.
        return render_submit(request, city, values=request.POST)
    if request.method == "POST":
        # Anonymous submits are counted per address in the shared cache before any photo is decoded.
        anonymous = not request.user.is_authenticated
        keys = throttle.keys_for("anonymous-submit", request)
        if anonymous and throttle.exceeded(keys, settings.HOTLINE["anonymous_submits_per_hour"]):
            form = _submit_form(city, request.POST)
            form.is_valid()
            form.add_error(
                None,
                _(
                    "Too many reports from this address in the last hour. Please try again later "
                    "or call 12345."
                ),
            )
            return _render(request, city, form, status=429)
        if anonymous:
            throttle.count(keys, SUBMIT_WINDOW_S)
        form = _submit_form(city, request.POST, request.FILES)
        if uploads.refused(request):  # a photo was cut off while streaming in: never file without it silently
            form.add_error("photos", uploads.message())
        if form.is_valid():
            data = form.cleaned_data
            sub = actions.Submission(
                description=data["description"],
                kind=data["kind"],
                caller_name=data["caller_name"],
                caller_phone=data["caller_phone"],
                address=data["address"],
                street_code=data["street"],
                category_code=data["category"],
                lon=data["lon"],
                lat=data["lat"],
                photos=[(f.name, f.read()) for f in data["photos"]],
                keep_photo_location=data["keep_photo_location"],
            )
            citizen = (
                request.user if request.user.is_authenticated and request.user.role == Role.CITIZEN else None
            )
            key = data["idempotency_key"]
            # A form key counts only for the account that sent it: replaying someone else's key files a new
            # request instead of finding theirs. Without a login, the page below never shows a stranger's.
            scope = f"web-form:user:{request.user.pk}" if request.user.is_authenticated else "web-form"
            done = run_action(
                lambda: actions.submit_request(
                    sub,
                    city=city,
                    channel=Channel.WEB,
                    citizen=citizen,
                    actor=request.user,
                    idempotency=(scope, key) if key else None,
                ),
                form=form,
            )
            if done:
                req, created = done.result
                if created:
                    _remember(request, req)
                    request.session[SUBMITTED] = {
                        "no": req.tracking_no,
                        "code": access.display(req.access_code),
                    }
                    return redirect("hotline:submitted")
                if _may_view(
                    request, req
                ):  # this browser sent the form twice: the first request is the answer
                    request.session[SUBMITTED] = {"no": req.tracking_no, "code": ""}
                    return redirect("hotline:submitted")
                # Someone else's form key: their request is not shown to this browser.
                form.add_error(
                    None, _("This form was already sent. Please reload the page and send it again.")
                )
    else:
        form = _submit_form(city, initial=_known_caller(request.user))
    return _render(request, city, form, status=200)


def _render(request, city, form, *, status: int, values=None):
    context = {
        "form": form,
        "city": city,
        **nearby_context(city, values if values is not None else form.data),
    }
    if values is None and not form.is_bound:
        context["nearby"] = None  # the list is shown once a point is chosen (or asked for)
    return render(request, "hotline/submit.html", context, status=status)


def render_submit(request, city, *, values, status: int = 200):
    """The submit page showing what was typed (``values``), unchecked, with the nearby list."""
    initial = {key: values.get(key) for key in values if key not in ("csrfmiddlewaretoken", "photos")}
    initial.pop("idempotency_key", None)
    form = _submit_form(city, initial=initial)
    return _render(request, city, form, status=status, values=values)


def _submit_form(city, *args, **kwargs) -> SubmitForm:
    streets = (
        org_queries.places(city, level="street").select_related("parent").order_by("parent__code", "code")
    )
    categories = categories_of(city)
    return SubmitForm(
        *args, categories=categories, streets=streets.defer("geometry", "parent__geometry"), **kwargs
    )


def _known_caller(user) -> dict:
    """A signed-in citizen's own name and phone, filled in (they may change them for this report)."""
    if not user.is_authenticated or getattr(user, "role", "") != Role.CITIZEN:
        return {}
    return {"caller_name": user.full_name or "", "caller_phone": user.phone or ""}


def submitted(request):
    given = request.session.get(SUBMITTED)
    if not isinstance(given, dict) or not given.get("no"):
        return redirect("hotline:submit")
    # The access code is shown once; a reload shows the number and points to the text message.
    request.session[SUBMITTED] = {"no": given["no"], "code": ""}
    return render(
        request, "hotline/submitted.html", {"tracking_no": given["no"], "access_code": given["code"]}
    )


def track(request):
    status = 200
    if request.method == "POST":
        form = TrackForm(request.POST)
        number = (request.POST.get("tracking_no") or "").strip().upper()[:20]
        keys = throttle.keys_for("track", request, number)
        if throttle.exceeded(keys, TRACK_FAILURES):
            form.is_valid()
            form.add_error(None, _("Too many attempts. Please wait a few minutes and try again."))
            status = 429
        elif form.is_valid():
            req = queries.find_tracked(form.cleaned_data["tracking_no"], form.cleaned_data["code"])
            if req is not None:
                _remember(request, req)
                return redirect("hotline:status", tracking_no=req.tracking_no)
            throttle.count(keys, TRACK_WINDOW_S)
            # One message for a wrong number and for a wrong code: nothing to learn by guessing.
            form.add_error(None, _("No request matches this tracking number and this access code."))
            status = 404
        else:
            status = 400
    else:
        form = TrackForm(initial={"tracking_no": request.GET.get("no", "")})
    return render(request, "hotline/track.html", {"form": form}, status=status)


def _rate_form_for(request, req: Request, data=None):
    """The owner's account rates with the plain form; anyone else needs the rating code sent to the
    citizen."""
    owner = request.user.is_authenticated and req.citizen_id == request.user.pk
    return FollowUpForm(data) if owner else RateByCodeForm(data)


def status_page(request, tracking_no, rate_form=None):
    req = Request.objects.filter(tracking_no=tracking_no).first()
    if req is None or not _may_view(request, req):
        return HttpResponseRedirect(f"{reverse('hotline:track')}?no={tracking_no}")
    can_rate = queries.awaits_follow_up(req) and not _is_staff(request.user)
    return render(
        request,
        "hotline/status.html",
        {
            "req": req,
            "timeline": queries.public_timeline(req),
            "can_rate": can_rate,
            "rate_form": rate_form or (_rate_form_for(request, req) if can_rate else None),
            "follow_ups": queries.answers(req),
            "attachments": req.attachments.order_by("id"),
            "supporters": queries.supporter_count(req),
        },
        status=400 if rate_form is not None else 200,
    )


def _thank(request) -> None:
    from django.contrib import messages

    messages.success(request, _("Thank you. Your answer has been recorded."))


def _answer(data) -> dict:
    return {
        "resolved": data["resolved"] == "yes",
        "satisfaction": data["satisfaction"],
        "comment": data["comment"],
    }


@require_POST
def rate(request, tracking_no):
    """The status page's follow-up form: the owner's account, or the one-time rating code."""
    req = get_object_or_404(Request, tracking_no=tracking_no)
    if _is_staff(request.user):
        raise PermissionDenied("staff cannot rate a reply; the citizen rates it")
    if not _may_view(request, req):
        raise PermissionDenied("track the request with its number and access code first")
    form = _rate_form_for(request, req, request.POST)
    keys = throttle.keys_for("rate", request, req.tracking_no)
    if isinstance(form, RateByCodeForm) and throttle.exceeded(keys, TRACK_FAILURES):
        form.is_valid()
        form.add_error(None, _("Too many attempts. Please wait a few minutes and try again."))
        return status_page(request, tracking_no, rate_form=form)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                if isinstance(form, RateByCodeForm):
                    link = actions.find_rating_link(data["code"])
                    if link is None or link.request_id != req.pk:
                        throttle.count(keys, TRACK_WINDOW_S)
                        raise ValidationError({"code": _("This rating code is unknown, used or expired.")})
                    actions.rate_with_code(data["code"], actor=request.user, **_answer(data))
                else:
                    actions.record_follow_up(req, channel="web", actor=request.user, **_answer(data))
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            _thank(request)
            return redirect("hotline:status", tracking_no=req.tracking_no)
    return status_page(request, tracking_no, rate_form=form)


def rate_by_link(request, code):
    """The link in the citizen's text message: one rating of one reply, then the link is spent."""
    if _is_staff(request.user):
        raise PermissionDenied("staff cannot rate a reply; the citizen rates it")
    keys = throttle.keys_for("rate", request)
    if throttle.exceeded(keys, TRACK_FAILURES):
        return render(request, "hotline/rate.html", {"blocked": True}, status=429)
    link = actions.find_rating_link(code)
    if link is None:
        throttle.count(keys, TRACK_WINDOW_S)
        return render(request, "hotline/rate.html", {"link": None}, status=404)
    req = link.request
    if not queries.awaits_follow_up(req):  # answered by phone meanwhile (one answer per reply), or reopened
        return render(
            request,
            "hotline/rate.html",
            {"link": link, "req": req, "closed": True, "answered": queries.answer_to_reply(req)},
            status=409 if request.method == "POST" else 200,
        )
    form = FollowUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = run_action(
            lambda: actions.rate_with_code(code, actor=request.user, **_answer(form.cleaned_data)), form=form
        )
        if done:
            _thank(request)
            return render(request, "hotline/rate.html", {"link": link, "req": req, "done": True})
    return render(
        request,
        "hotline/rate.html",
        {
            "link": link,
            "req": req,
            "form": form,
            "timeline": queries.public_timeline(req),
        },
        status=400 if form.is_bound else 200,
    )


@login_required
def mine(request):
    if request.user.role != Role.CITIZEN:
        return redirect("hotline:search")
    requests = queries.requests_for(request.user).select_related("category", "street").order_by("-created_at")
    return render(request, "hotline/mine.html", {"requests": requests[:200]})
