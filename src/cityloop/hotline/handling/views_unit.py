"""The unit inbox for streets and departments, the per-order actions, and the daily overdue list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cityloop.core.actors import Actor
from cityloop.core.doors.forms import run_action
from cityloop.hotline import actions, queries
from cityloop.hotline.forms import MAX_PHOTOS, ORDER_FORMS
from cityloop.hotline.handling import reply_photos, reply_quality
from cityloop.hotline.handling.views_detail import render_detail
from cityloop.hotline.models import Order, OrderStatus
from cityloop.hotline.views_common import timer, unit_required

TAB_LABELS = {
    "new": gettext_lazy("New"),
    "in_progress": gettext_lazy("In progress"),
    "overdue": gettext_lazy("Overdue"),
    "returned": gettext_lazy("Returned"),
}


def _row(order):
    due = order.response_due if order.status == OrderStatus.PENDING else order.finish_due
    active = order.status in (OrderStatus.PENDING, OrderStatus.SIGNED)
    return {"order": order, "req": order.request, "timer": timer(due) if active else None}


@unit_required
def inbox(request):
    tab = request.GET.get("tab", "new")
    if tab not in queries.INBOX_TABS:
        tab = "new"
    now = timezone.now()
    orders = queries.inbox_orders(request.user, tab, now)
    tabs = [
        {"key": key, "label": TAB_LABELS[key], "count": queries.inbox_orders(request.user, key, now).count()}
        for key in queries.INBOX_TABS
    ]
    return render(
        request,
        "hotline/inbox.html",
        {
            "tab": tab,
            "tabs": tabs,
            "rows": [_row(o) for o in orders[:200]],
            "unit": request.user.street or request.user.department,
        },
    )


@unit_required
def overdue(request):
    now = timezone.now()
    rows = [_row(o) for o in queries.inbox_orders(request.user, "overdue", now)]
    return render(
        request,
        "hotline/overdue.html",
        {"rows": rows, "now": now, "unit": request.user.street or request.user.department},
    )


def _visible_order(request, pk) -> Order:
    order = get_object_or_404(Order.objects.select_related("request", "street", "department"), pk=pk)
    # A unit that cannot see the request learns nothing about the order either.
    if not queries.requests_for(request.user).filter(pk=order.request_id).exists():
        raise Http404("no such order")
    return order


@login_required
@require_POST
def sign(request, pk):
    order = _visible_order(request, pk)
    done = run_action(lambda: actions.sign_order(order, actor=request.user), request=request)
    if done:
        messages.success(request, _("Order for %(no)s signed.") % {"no": order.request.tracking_no})
    if request.POST.get("next") == "inbox":
        return redirect("hotline:inbox")
    return redirect("hotline:request-detail", pk=order.request_id)


def _run(verb: str, order: Order, data: dict, actor: Actor, *, sent_anyway: bool = False, staged=()):
    if verb == "return":
        return actions.return_order(order, reason=data["reason"], actor=actor)
    if verb == "note":
        return actions.add_note(order, text=data["text"], public=data["public"], actor=actor)
    if verb == "contact":
        return actions.record_contact(order, channel=data["channel"], summary=data["summary"], actor=actor)
    if verb == "extension":
        return actions.request_extension(order, days=data["days"], reason=data["reason"], actor=actor)
    # the finished work's photos and the reply are one step: a refused reply attaches nothing
    # the photos kept from before the check flagged the reply (reply_photos), then those chosen now
    chosen = [(kept.original, kept.read) for kept in staged]
    chosen += [(photo.name, photo.read) for photo in data.get("photos") or []]
    for name, read in chosen:
        actions.attach_photo(
            order.request, name=name, data=read(), keep_location=False, stage="result", actor=actor
        )
    return actions.reply_order(
        order, outcome=data["outcome"], text=data["text"], actor=actor, sent_anyway=sent_anyway
    )


DONE = {
    "return": gettext_lazy("Order returned to the dispatcher."),
    "note": gettext_lazy("Note added."),
    "contact": gettext_lazy("Contact recorded."),
    "extension": gettext_lazy("Extension requested."),
    "reply": gettext_lazy("Reply sent to the citizen."),
}


def _kept_photos(request, order: Order, form) -> list | None:
    """The reply's photos kept from an earlier post (reply_photos): those the page names, minus those
    ticked for removal (deleted now); None, with the error on the form, when one cannot be used."""
    dropped = set(request.POST.getlist(f"{form.prefix}-drop"))
    try:
        named = reply_photos.load(
            request.POST.getlist(f"{form.prefix}-staged"), order=order, actor=request.user
        )
    except ValidationError as error:
        form.add_error("photos", error.message_dict["photos"])
        return None
    removed = [p for p in named if p.token in dropped]
    if removed:
        reply_photos.discard(removed, order=order, actor=request.user, sent=False)
    return [p for p in named if p.token not in dropped]


def _stage_new(request, order: Order, form, kept: list) -> list:
    """``kept`` and the photos chosen with this post, staged to come back on the page."""
    new = form.cleaned_data.get("photos") or []
    kept = list(kept)
    try:
        for upload in new:
            kept.append(reply_photos.stage(order, upload, actor=request.user))
    except ValidationError as error:
        form.add_error("photos", error.message_dict.get("photos") or error.messages)
    form.cleaned_data["photos"] = []
    return kept


@login_required
@require_POST
def order_action(request, pk, verb):
    if verb not in ORDER_FORMS:
        raise Http404("no such action")
    order = _visible_order(request, pk)
    form = ORDER_FORMS[verb](request.POST, request.FILES, prefix=f"o{order.pk}-{verb}")
    sent_anyway = request.POST.get("send_anyway") == "1"
    staged: list = []
    if verb == "reply" and order.status == OrderStatus.SIGNED:
        form.is_valid()  # the photos field is cleaned even when another field is wrong: its photos stay
        kept = _kept_photos(request, order, form)
        if kept is not None and len(kept) + len(form.cleaned_data.get("photos") or []) > MAX_PHOTOS:
            form.add_error("photos", _("At most %(n)d photos.") % {"n": MAX_PHOTOS})
        elif kept is not None and not form.is_valid():
            kept = _stage_new(request, order, form, kept)
        if kept is None or not form.is_valid():
            order.request.refresh_from_db()
            return render_detail(
                request,
                order.request,
                bound={(order.pk, verb): form},
                staged_photos={order.pk: kept or []},
                status=400,
            )
        staged = kept
        if not sent_anyway:
            # 答复意见质量: a reply the check flags comes back with its reasons; the unit edits it and
            # checks again, or sends it anyway (two plain POSTs, no JavaScript); its photos are kept
            quality = reply_quality.score_order_reply(order, form.cleaned_data["text"], at=timezone.now())
            if quality.flagged:
                staged = _stage_new(request, order, form, staged)
                return render_detail(
                    request,
                    order.request,
                    bound={(order.pk, verb): form},
                    reply_checks={order.pk: quality.as_dict()},
                    staged_photos={order.pk: staged},
                    status=200 if form.is_valid() else 400,
                )
    if form.is_valid():
        done = run_action(
            lambda: _run(
                verb, order, form.cleaned_data, request.user, sent_anyway=sent_anyway, staged=staged
            ),
            form=form,
        )
        if done:
            if staged:
                reply_photos.discard(staged, order=order, actor=request.user, sent=True)
            messages.success(request, DONE[verb])
            if verb == "return":
                return redirect("hotline:inbox")
            return redirect("hotline:request-detail", pk=order.request_id)
    order.request.refresh_from_db()
    return render_detail(
        request, order.request, bound={(order.pk, verb): form}, staged_photos={order.pk: staged}, status=400
    )
