"""The dispatcher's pages: phone intake, the queue, detail actions, arbitration and follow-ups."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cityloop.core.doors.forms import apply_errors, field_errors, run_action
from cityloop.hotline import actions, queries, rules
from cityloop.hotline.forms import (
    ArbitrationForm,
    ClassifyForm,
    DispatchForm,
    ExtensionDecisionForm,
    FollowUpForm,
    IntakeForm,
    RevealForm,
)
from cityloop.hotline.handling.dispatch import suggestions_for
from cityloop.hotline.handling.views_detail import render_detail, visible_request
from cityloop.hotline.intake import access, suggest
from cityloop.hotline.models import Arbitration, Channel, Extension, Request
from cityloop.hotline.views_common import (
    categories_of,
    current_city,
    dispatcher_required,
    resolve_unit,
    timer,
    unit_choices,
)

QUEUE_PAGE = 100


@dispatcher_required
def intake(request):
    city = current_city()
    categories = categories_of(city)
    suggestion = None
    if request.method == "POST" and "suggest" in request.POST:
        # Ask the classifier without saving: the operator sees its pick and confidence, and still chooses.
        values = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
        form = IntakeForm(categories=categories, initial=values)
        text = request.POST.get("description", "")
        category, confidence = suggest.suggest(city, text)
        suggestion = {"category": category, "confidence": confidence, "asked": True}
    elif request.method == "POST":
        form = IntakeForm(request.POST, categories=categories)
        if form.is_valid():
            data = form.cleaned_data
            sub = actions.Submission(
                description=data["description"],
                kind=data["kind"],
                caller_name=data["caller_name"],
                caller_phone=data["caller_phone"],
                address=data["address"],
                lon=data["lon"],
                lat=data["lat"],
                category_code=data["category"],
                urgency=data["urgency"],
                complex=data["complex"],
                confidential=data["confidential"],
            )
            key = data["idempotency_key"]
            done = run_action(
                lambda: actions.submit_request(
                    sub,
                    city=city,
                    channel=Channel.PHONE,
                    actor=request.user,
                    idempotency=(f"intake:user:{request.user.pk}", key) if key else None,
                ),
                form=form,
            )
            if done:
                req, created = done.result
                messages.success(request, _("Request %(no)s taken in.") % {"no": req.tracking_no})
                if created:
                    # Read out once to the caller (it is also texted to them); it is not stored in the clear.
                    messages.info(
                        request,
                        _(
                            "Tell the caller the access code %(code)s: with the tracking number it "
                            "opens the status page."
                        )
                        % {"code": access.display(req.access_code)},
                    )
                return redirect("hotline:request-detail", pk=req.pk)
    else:
        form = IntakeForm(categories=categories)
    return render(
        request,
        "hotline/intake.html",
        {"form": form, "suggestion": suggestion},
        status=400 if form.is_bound and form.errors else 200,
    )


@dispatcher_required
def queue(request):
    city = current_city()
    if request.method == "POST":
        return _queue_post(request, city)
    order = request.GET.get("order", "oldest")
    if order not in queries.QUEUE_ORDERS:
        order = "oldest"
    pending = list(queries.dispatch_queue(city, order=order)[:QUEUE_PAGE])
    suggested = suggestions_for(pending)
    rows = [{"req": r, "timer": timer(r.response_due), "targets": suggested[r.pk]} for r in pending]
    # The first suggestion in view answers a keyboard shortcut (accesskey, no JavaScript): accept, the
    # page comes back in the same order, the next one is first.
    first = next((row for row in rows if row["targets"]), None)
    if first is not None:
        first["shortcut"] = True
    return render(
        request,
        "hotline/queue.html",
        {
            "rows": rows,
            "order": order,
            "orders": [
                ("oldest", _("Oldest first")),
                ("urgent", _("Urgent first")),
                ("due", _("Overdue first")),
            ],
            "total": queries.dispatch_queue(city).count(),
            "extensions": queries.pending_extensions(city)[:50],
        },
    )


def _back_to_queue(request):
    order = request.POST.get("order", "")
    target = reverse("hotline:queue")
    return redirect(f"{target}?order={order}" if order in queries.QUEUE_ORDERS else target)


def _queue_post(request, city):
    if "accept" in request.POST:
        req = get_object_or_404(queries.dispatch_queue(city), pk=request.POST["accept"])
        done = run_action(
            lambda: actions.accept_suggestion(req, actor=request.user),
            request=request,
            prefix=f"{req.tracking_no}: ",
        )
        if done:
            orders = done.result
            units = ", ".join(str(o.unit) for o in orders)
            messages.success(
                request, _("%(no)s dispatched to %(units)s.") % {"no": req.tracking_no, "units": units}
            )
        return _back_to_queue(request)
    chosen = [pk for pk in request.POST.getlist("selected") if pk.isdigit()]
    if not chosen:
        messages.error(request, _("Tick at least one request to dispatch."))
        return _back_to_queue(request)
    result = actions.bulk_dispatch(
        list(queries.dispatch_queue(city).filter(pk__in=chosen)), actor=request.user
    )
    messages.success(request, _("%(n)d request(s) dispatched.") % {"n": len(result.dispatched)})
    for req, reason in result.skipped:
        messages.error(request, f"{req.tracking_no}: {_(reason)}")
    return _back_to_queue(request)


@dispatcher_required
@require_POST
def classify(request, pk):
    req = visible_request(request, pk)
    form = ClassifyForm(request.POST, categories=categories_of(req.city))
    if form.is_valid():
        category = categories_of(req.city).get(code=form.cleaned_data["category"])
        done = run_action(lambda: actions.classify_request(req, category, actor=request.user), form=form)
        if done:
            return redirect("hotline:request-detail", pk=req.pk)
    return render_detail(request, req, bound={"classify": form}, status=400)


@dispatcher_required
@require_POST
def dispatch(request, pk):
    req = visible_request(request, pk)
    form = DispatchForm(request.POST, units=unit_choices(req.city))
    if form.is_valid():
        chosen = [form.cleaned_data["lead"]] + [
            u for u in form.cleaned_data["others"] if u != form.cleaned_data["lead"]
        ]
        units = [resolve_unit(value, req.city) for value in chosen]
        done = run_action(
            lambda: actions.dispatch_request(
                req,
                units=[(kind, unit, "manual") for kind, unit in units if unit],
                actor=request.user,
                note=form.cleaned_data["note"],
            ),
            form=form,
        )
        if done:
            if request.POST.get("next") == "queue":  # opened from the queue: back to it, the next one
                messages.success(
                    request,
                    _("%(no)s dispatched to %(units)s.")
                    % {"no": req.tracking_no, "units": ", ".join(str(o.unit) for o in done.result)},
                )
                return _back_to_queue(request)
            return redirect("hotline:request-detail", pk=req.pk)
    return render_detail(request, req, bound={"dispatch": form}, status=400)


@dispatcher_required
@require_POST
def merge(request, pk):
    req = visible_request(request, pk)
    into = get_object_or_404(
        Request, pk=request.POST.get("into", "0") if request.POST.get("into", "").isdigit() else 0
    )
    done = run_action(lambda: actions.merge_requests(req, into=into, actor=request.user), request=request)
    if done:
        messages.success(
            request, _("%(dup)s merged into %(into)s.") % {"dup": req.tracking_no, "into": into.tracking_no}
        )
    return redirect("hotline:request-detail", pk=req.pk)


@require_POST
def reveal(request, pk):
    req = visible_request(request, pk)
    form = RevealForm(request.POST, auto_id="reveal-%s")
    if form.is_valid():
        done = run_action(
            lambda: actions.reveal_contact(req, actor=request.user, reason=form.cleaned_data["reason"]),
            form=form,
        )
        if done:
            return render_detail(request, req, revealed=done.result)
    return render_detail(request, req, reveal_form=form, status=400)


@dispatcher_required
@require_POST
def new_access_code(request, pk):
    req = visible_request(request, pk)
    code = actions.reissue_access_code(req, actor=request.user)
    messages.info(
        request,
        _("Tell the caller the access code %(code)s: with the tracking number it opens the status page.")
        % {"code": access.display(code)},
    )
    return redirect("hotline:request-detail", pk=req.pk)


@dispatcher_required
@require_POST
def decide_extension(request, pk):
    extension = get_object_or_404(Extension.objects.select_related("order__request"), pk=pk)
    form = ExtensionDecisionForm(request.POST, prefix=f"x{pk}")
    if form.is_valid():
        try:
            with transaction.atomic():
                actions.decide_extension(
                    extension,
                    approve=form.cleaned_data["approve"] == "yes",
                    note=form.cleaned_data["note"],
                    actor=request.user,
                )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return redirect("hotline:request-detail", pk=extension.order.request_id)
    return render_detail(request, extension.order.request, bound={("extension", pk): form}, status=400)


@dispatcher_required
def arbitrations(request, bound=None, status=200):
    city = current_city()
    units = unit_choices(city)
    rows = [
        (a, (bound or {}).get(a.pk) or ArbitrationForm(units=units, prefix=f"a{a.pk}"))
        for a in queries.open_arbitrations(city)
    ]
    return render(request, "hotline/arbitrations.html", {"rows": rows}, status=status)


@dispatcher_required
@require_POST
def decide_arbitration(request, pk):
    arbitration = get_object_or_404(Arbitration.objects.select_related("request"), pk=pk)
    city = arbitration.request.city
    form = ArbitrationForm(request.POST, units=unit_choices(city), prefix=f"a{pk}")
    if form.is_valid():
        kind, unit = resolve_unit(form.cleaned_data["unit"], city) or (None, None)
        done = run_action(
            lambda: actions.decide_arbitration(
                arbitration, kind=kind, unit=unit, decision=form.cleaned_data["decision"], actor=request.user
            ),
            form=form,
        )
        if done:
            messages.success(
                request, _("%(no)s sent to %(unit)s.") % {"no": arbitration.request.tracking_no, "unit": unit}
            )
            return redirect("hotline:arbitrations")
    request.method = "GET"
    return arbitrations(request, bound={pk: form}, status=400)


@dispatcher_required
def follow_ups(request, bound=None, status=200, revealed=None):
    """Replies nobody has answered yet: what the unit said, the caller (masked until a reveal with a
    reason), and the form for the answer the citizen gives on the phone."""
    bound, revealed = bound or {}, revealed or {}
    waiting = list(queries.follow_up_queue(current_city()).select_related("street")[:QUEUE_PAGE])
    replies = queries.follow_up_replies(waiting)
    rows = [
        {
            "req": r,
            "form": bound.get(r.pk) or FollowUpForm(prefix=f"f{r.pk}"),
            "reveal_form": bound.get(("reveal", r.pk)) or RevealForm(prefix=f"r{r.pk}"),
            "replies": replies[r.pk],
            "masked": rules.masked_contact(r.caller_name, r.caller_phone, confidential=False),
            "revealed": revealed.get(r.pk),
        }
        for r in waiting
    ]
    return render(request, "hotline/follow_ups.html", {"rows": rows}, status=status)


@dispatcher_required
@require_POST
def reveal_for_follow_up(request, pk):
    """The caller's number for the follow-up call, revealed with a reason (audited) on the list itself."""
    req = get_object_or_404(queries.follow_up_queue(current_city()), pk=pk)
    form = RevealForm(request.POST, prefix=f"r{pk}")
    if form.is_valid():
        done = run_action(
            lambda: actions.reveal_contact(req, actor=request.user, reason=form.cleaned_data["reason"]),
            form=form,
        )
        if done:
            return follow_ups(request, revealed={pk: done.result})
    return follow_ups(request, bound={("reveal", pk): form}, status=400)


@dispatcher_required
@require_POST
def record_phone_follow_up(request, pk):
    # Not only the list's rows: a stale page's answer to a reply the citizen rated online meanwhile
    # gets the action's refusal, which says so, instead of a bare 404.
    req = get_object_or_404(Request.objects.filter(city=current_city()), pk=pk)
    form = FollowUpForm(request.POST, prefix=f"f{pk}")
    if not form.is_valid():
        return follow_ups(request, bound={pk: form}, status=400)
    data = form.cleaned_data
    try:
        with transaction.atomic():
            actions.record_follow_up(
                req,
                resolved=data["resolved"] == "yes",
                satisfaction=data["satisfaction"],
                comment=data["comment"],
                channel="phone",
                actor=request.user,
            )
    except ValidationError as exc:  # the request's answer, not a field of the form: above the list
        for _field, message in field_errors(exc):
            messages.error(request, f"{req.tracking_no}: {message}")
        return follow_ups(request, status=409)
    messages.success(request, _("Follow-up of %(no)s recorded.") % {"no": req.tracking_no})
    return redirect("hotline:follow-ups")
