"""Pages: a person's inbox and notification preferences; the administrators' outbox with resend."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cityloop.core import permissions
from cityloop.core.doors.forms import run_action
from cityloop.notify import actions, queries
from cityloop.notify.forms import CHANNELS, OutboxFilterForm, PreferencesForm
from cityloop.notify.models import Message, Status

PER_PAGE = 50
# Channels whose address is a person's contact: the outbox shows only its end (what went where, not a
# list of phone numbers and e-mail addresses to copy).
PERSONAL_ADDRESSES = {"email", "sms"}
SHOWN = 4


def mask(channel: str, address: str) -> str:
    if channel not in PERSONAL_ADDRESSES and "@" not in address:
        return address
    if len(address) <= SHOWN:
        return "*" * len(address)
    return "*" * (len(address) - SHOWN) + address[-SHOWN:]


@dataclass(frozen=True)
class InboxItem:
    message: Message
    link: (
        str  # only our own paths become links (a message's link is written by code; a href is never trusted)
    )


@dataclass(frozen=True)
class OutboxRow:
    message: Message
    address: str
    channel: str
    resendable: bool


def _own_path(link: str) -> str:
    return link if link.startswith("/") and not link.startswith("//") else ""


def _ids(values) -> list[int]:
    return [int(v) for v in values if str(v).isdigit()]


@permissions.page("notify:inbox")
def inbox_page(request):
    if request.method == "POST":
        if request.POST.get("all"):
            n = actions.mark_read(request.user)
        else:
            n = actions.mark_read(request.user, _ids(request.POST.getlist("id")))
        if n:
            messages.success(
                request,
                ngettext("%(n)d notification marked read.", "%(n)d notifications marked read.", n) % {"n": n},
            )
        return redirect("notify:inbox")
    items = [InboxItem(m, _own_path(m.link)) for m in queries.inbox(request.user)]
    unread = sum(1 for item in items if item.message.read_at is None)
    return render(request, "notify/inbox.html", {"items": items, "unread": unread})


def _initial(user) -> dict:
    pref = queries.preference(user)
    if pref is None:  # what recipients.people assumes for someone who never chose: e-mail if they have one
        return {"language": settings.LANGUAGE_CODE, "email": bool(user.email), "sms": False, "digest": False}
    return {
        "language": pref.language or settings.LANGUAGE_CODE,
        "email": pref.email,
        "sms": pref.sms,
        "quiet_from": pref.quiet_from,
        "quiet_until": pref.quiet_until,
        "digest": pref.digest,
    }


@permissions.page("notify:preferences")
def preferences_page(request):
    user = request.user
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            done = run_action(
                lambda: actions.save_preferences(
                    user,
                    language=data["language"],
                    email=data["email"],
                    sms=data["sms"],
                    quiet_from=data["quiet_from"],
                    quiet_until=data["quiet_until"],
                    digest=data["digest"],
                    actor=user,
                ),
                form=form,
            )
            if done:
                messages.success(request, _("Your notification preferences were saved."))
                return redirect("notify:preferences")
        status = 400
    else:
        form = PreferencesForm(initial=_initial(user))
        status = 200
    return render(request, "notify/preferences.html", {"form": form}, status=status)


@permissions.page("notify:outbox")
def outbox_page(request):
    if request.method == "POST":
        return _resend(request)
    form = OutboxFilterForm(request.GET)
    filters = form.filters()
    rows = queries.outbox(**filters)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    shown = [
        OutboxRow(
            m,
            mask(m.channel, m.address),
            str(CHANNELS.get(m.channel, m.channel)),
            m.status in (Status.DEAD, Status.SENT),
        )
        for m in page.object_list
    ]
    query = urlencode({k: v for k, v in filters.items() if v})
    backlog = queries.backlog()
    counts = [(value, label, backlog.get(value, 0)) for value, label in Status.choices]
    return render(
        request,
        "notify/outbox.html",
        {
            "form": form,
            "page": page,
            "rows": shown,
            "resendable": any(row.resendable for row in shown),
            "query": query,
            "counts": counts,
            "dead": backlog.get(Status.DEAD, 0),
            "filtered": any(filters.values()),
        },
    )


def _resend(request):
    ids = _ids(request.POST.getlist("ids"))
    back = reverse("notify:outbox")
    query = request.POST.get("query", "")
    # the filters the admin was looking at, rebuilt from their own form (never a raw redirect target)
    filters = OutboxFilterForm(dict(parse_qsl(query)[:10])).filters()
    again = urlencode({k: v for k, v in filters.items() if v})
    if not ids:
        messages.error(request, _("Select the messages to resend first."))
    else:
        n = actions.resend(ids, actor=request.user)
        if n:
            messages.success(
                request, ngettext("%(n)d message queued again.", "%(n)d messages queued again.", n) % {"n": n}
            )
        if n < len(ids):
            messages.error(
                request,
                _("Only dead letters and sent messages can be sent again; the others were left as they are."),
            )
    return redirect(f"{back}?{again}" if again else back)
