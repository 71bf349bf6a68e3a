"""The unit inbox for streets and departments, the per-order actions, and the daily overdue list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cityloop.core.actors import Actor
from cityloop.core.doors.forms import run_action
from cityloop.hotline import actions, queries
from cityloop.hotline.forms import ORDER_FORMS
from cityloop.hotline.handling import reply_quality
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


def _run(verb: str, order: Order, data: dict, actor: Actor, *, sent_anyway: bool = False):
    if verb == "return":
        return actions.return_order(order, reason=data["reason"], actor=actor)
    if verb == "note":
        return actions.add_note(order, text=data["text"], public=data["public"], actor=actor)
    if verb == "contact":
        return actions.record_contact(order, channel=data["channel"], summary=data["summary"], actor=actor)
    if verb == "extension":
        return actions.request_extension(order, days=data["days"], reason=data["reason"], actor=actor)
    # the finished work's photos and the reply are one step: a refused reply attaches nothing
    for photo in data.get("photos") or []:
        actions.attach_photo(
            order.request,
            name=photo.name,
            data=photo.read(),
            keep_location=False,
            stage="result",
            actor=actor,
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


@login_required
@require_POST
def order_action(request, pk, verb):
    if verb not in ORDER_FORMS:
        raise Http404("no such action")
    order = _visible_order(request, pk)
    form = ORDER_FORMS[verb](request.POST, request.FILES, prefix=f"o{order.pk}-{verb}")
    sent_anyway = request.POST.get("send_anyway") == "1"
    if form.is_valid() and verb == "reply" and order.status == OrderStatus.SIGNED and not sent_anyway:
        # 答复意见质量: a reply the check flags comes back with its reasons; the unit edits it and
        # checks again, or sends it anyway (two plain POSTs, no JavaScript)
        quality = reply_quality.score_order_reply(order, form.cleaned_data["text"], at=timezone.now())
        if quality.flagged:
            check = {**quality.as_dict(), "photos_dropped": bool(form.cleaned_data.get("photos"))}
            return render_detail(
                request, order.request, bound={(order.pk, verb): form}, reply_checks={order.pk: check}
            )
    if form.is_valid():
        done = run_action(
            lambda: _run(verb, order, form.cleaned_data, request.user, sent_anyway=sent_anyway), form=form
        )
        if done:
            messages.success(request, DONE[verb])
            if verb == "return":
                return redirect("hotline:inbox")
            return redirect("hotline:request-detail", pk=order.request_id)
    order.request.refresh_from_db()
    return render_detail(request, order.request, bound={(order.pk, verb): form}, status=400)
