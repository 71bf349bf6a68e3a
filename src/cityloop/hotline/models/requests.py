"""The life of a citizen request (诉求): the request, the orders units receive, and its timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone (12345)")
    WEB = "web", _("Web form")
    API = "api", _("API")
    CSV = "csv", _("Call-centre import")
    BRAIN = "brain", _("City brain sensor")
    OPEN311 = "open311", _("Open311")
    PATROL = "patrol", _("Street patrol")
    REPLAY = "replay", _("Replayed history")


class Status(models.TextChoices):
    NEW = "new", _("Awaiting dispatch")
    DISPATCHED = "dispatched", _("Dispatched")
    IN_PROGRESS = "in_progress", _("In progress")
    REPLIED = "replied", _("Replied, awaiting follow-up")
    AWAITING_VERIFICATION = "awaiting_verification", _("Awaiting verification by data")
    CLOSED = "closed", _("Closed")
    MERGED = "merged", _("Merged into another request")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent")


class RequestKind(models.TextChoices):
    """诉求类型, as a 12345 centre files them: asking, asking for help, complaining, reporting, suggesting."""

    CONSULT = "consult", _("Enquiry (咨询)")
    HELP = "help", _("Request for help (求助)")
    COMPLAINT = "complaint", _("Complaint (投诉)")
    REPORT = "report", _("Report of wrongdoing (举报)")
    SUGGESTION = "suggestion", _("Suggestion (建议)")


class Request(models.Model):
    city = models.ForeignKey("org.Jurisdiction", on_delete=models.PROTECT, related_name="+")
    tracking_no = models.CharField(_("tracking number"), max_length=20, unique=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=24, choices=Status.choices, default=Status.NEW, db_index=True
    )
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="hotline_requests",
    )
    caller_name = models.CharField(_("caller's name"), max_length=100, blank=True)
    caller_phone = models.CharField(_("caller's phone"), max_length=32, blank=True)
    caller_email = models.CharField(_("caller's e-mail"), max_length=200, blank=True)
    # the language the caller filed in: what the city tells them comes in it
    language = models.CharField(_("language"), max_length=8, blank=True)
    confidential = models.BooleanField(_("confidential caller"), default=False)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("what happened"))
    address = models.CharField(_("address"), max_length=300, blank=True)
    lon = models.FloatField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    district = models.ForeignKey(
        "org.Jurisdiction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    street = models.ForeignKey(
        "org.Jurisdiction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    community = models.ForeignKey(
        "org.Jurisdiction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    category = models.ForeignKey(
        "org.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    suggested_category = models.ForeignKey(
        "org.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suggestion_confidence = models.FloatField(null=True, blank=True)
    urgency = models.CharField(_("urgency"), max_length=8, choices=Urgency.choices, default=Urgency.NORMAL)
    # blank for requests filed before the type was asked, and for doors that do not ask (Open311, sensors)
    kind = models.CharField(
        _("type of request"), max_length=12, choices=RequestKind.choices, blank=True, default=""
    )
    complex = models.BooleanField(_("complex case"), default=False)
    # The unit that received the case first leads it when it spans several units (首接负责).
    lead_street = models.ForeignKey(
        "org.Jurisdiction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lead_department = models.ForeignKey(
        "org.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged"
    )
    source_ref = models.CharField(max_length=120, blank=True, db_index=True)
    attributes = models.JSONField(default=dict, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    response_due = models.DateTimeField(null=True, blank=True)
    finish_due = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    return_count = models.PositiveSmallIntegerField(default=0)
    outcome = models.CharField(max_length=16, blank=True)
    resolved = models.BooleanField(null=True)
    satisfaction = models.CharField(max_length=12, blank=True)
    # Keyed hash of the access code (hotline/intake/access.py); empty for requests filed before codes.
    access_code_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        db_table = "hotline_request"
        indexes = [
            models.Index(fields=["city", "status", "created_at"]),
            models.Index(fields=["street", "created_at"]),
            models.Index(fields=["category", "created_at"]),
            # an order's request's place and category by key, from the index alone (the leaders' overdue
            # orders by district or category: leaders.overdue_orders)
            models.Index(fields=["id", "district", "category", "city"], name="hotline_req_id_place_idx"),
        ]
        permissions = [("contact_citizen", "May see the caller's name and phone to contact the citizen")]

    def __str__(self) -> str:
        return self.tracking_no

    @property
    def is_open(self) -> bool:
        return self.status not in (Status.CLOSED, Status.MERGED)


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting signature")
    SIGNED = "signed", _("Signed, in progress")
    RETURNED = "returned", _("Returned to the dispatcher")
    REPLIED = "replied", _("Replied")
    CANCELLED = "cancelled", _("Cancelled")


class Order(models.Model):
    """What one unit (a street or a department) receives to handle a request (工单)."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="orders")
    street = models.ForeignKey(
        "org.Jurisdiction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        "org.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    route = models.CharField(max_length=16)
    lead = models.BooleanField(default=True)
    status = models.CharField(
        max_length=10, choices=OrderStatus.choices, default=OrderStatus.PENDING, db_index=True
    )
    dispatched_at = models.DateTimeField()
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    response_due = models.DateTimeField()
    finish_due = models.DateTimeField()
    signed_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    returned_reason = models.TextField(blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    reply = models.TextField(blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    # 答复意见质量 as scored when the reply was sent (handling/reply_quality.py: scores, reasons, flag)
    reply_quality = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "hotline_order"
        indexes = [
            models.Index(fields=["street", "status"]),
            models.Index(fields=["department", "status"]),
            # the overdue orders, counted and the most overdue listed from the index alone, in its order
            # (leaders.overdue_orders); the request id joins the request's index below
            models.Index(
                fields=["status", "finish_due", "id", "response_due", "request"],
                name="hotline_ord_overdue_idx",
            ),
        ]

    @property
    def unit(self):
        return self.street or self.department

    @property
    def unit_key(self) -> str:
        return f"street:{self.street_id}" if self.street_id else f"department:{self.department_id}"


class Event(models.Model):
    """One line of a request's timeline; ``public`` lines are shown to the citizen and via Open311."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="events")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=24)
    public = models.BooleanField(default=False)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "hotline_event"
        ordering = ["at", "id"]


class Extension(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="extensions")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    days = models.PositiveSmallIntegerField()
    reason = models.TextField()
    approved = models.BooleanField(null=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        db_table = "hotline_extension"


class Supporter(models.Model):
    """A citizen who says an open request is their problem too (这也是我的问题) instead of filing it again.

    One per citizen and request: a signed-in citizen by the account, anyone else by a keyed hash of the
    phone they gave (never shown, and a copy of the database alone cannot test guesses). Only the count
    is shown, to staff and to the request's own citizen.
    """

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="supporters")
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    phone_hash = models.CharField(max_length=64, blank=True, editable=False)
    at = models.DateTimeField()

    class Meta:
        db_table = "hotline_supporter"
        constraints = [
            models.UniqueConstraint(
                fields=["request", "citizen"],
                condition=models.Q(citizen__isnull=False),
                name="hotline_supporter_one_per_citizen",
            ),
            models.UniqueConstraint(
                fields=["request", "phone_hash"],
                condition=~models.Q(phone_hash=""),
                name="hotline_supporter_one_per_phone",
            ),
        ]


class FollowUp(models.Model):
    """The citizen's answer (回访): resolved? satisfied?

    Given online by the citizen (``channel`` web) or to an operator on the phone (``channel`` phone,
    ``operator`` set): a page says which, so an operator's notes never pass for the citizen's own words.
    One answer per reply: ``replied_at`` is the reply it answers (the request's ``replied_at`` then), and
    the database refuses a second answer to the same reply. Answers stored before it was kept have none.
    """

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="follow_ups")
    at = models.DateTimeField()
    channel = models.CharField(max_length=8)  # web | phone
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved = models.BooleanField()
    satisfaction = models.CharField(max_length=12)
    comment = models.TextField(blank=True)
    reopened = models.BooleanField(default=False)
    replied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "hotline_follow_up"
        constraints = [
            models.UniqueConstraint(fields=["request", "replied_at"], name="hotline_follow_up_one_per_reply")
        ]

    @property
    def by_phone(self) -> bool:
        return self.channel == "phone"


class RatingLink(models.Model):
    """A one-time code, sent to the citizen, that lets the web follow-up form rate one reply."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="rating_links")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "hotline_rating_link"


class Arbitration(models.Model):
    """Repeated returns between the same units go to the city-level dispatcher to decide."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="arbitrations")
    opened_at = models.DateTimeField()
    units = models.JSONField(default=list)
    reason = models.TextField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision = models.TextField(blank=True)

    class Meta:
        db_table = "hotline_arbitration"


class Attachment(models.Model):
    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="hotline/%Y/%m/")
    content_type = models.CharField(max_length=20)
    size = models.PositiveIntegerField()
    location_kept = models.BooleanField(default=False)
    # what the photo shows: the problem as reported, or the finished work the unit replied with
    stage = models.CharField(
        max_length=8, choices=[("report", _("reported")), ("result", _("finished work"))], default="report"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hotline_attachment"


class IdempotencyKey(models.Model):
    """A retried submit with the same key returns the first request."""

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=128)
    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "hotline_idempotency_key"
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="hotline_idempotency_scope_key")]


class DailyCounter(models.Model):
    """Per-day sequence behind readable tracking numbers."""

    day = models.CharField(max_length=8, primary_key=True)
    value = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "hotline_daily_counter"


class TimeLimit(models.Model):
    """Per-category override of the response and finish limits (the defaults live in settings)."""

    category = models.ForeignKey("org.Category", on_delete=models.CASCADE, related_name="+")
    urgency = models.CharField(max_length=8, choices=Urgency.choices)
    respond_hours = models.FloatField()
    finish_days = models.PositiveSmallIntegerField()
    complex_finish_days = models.PositiveSmallIntegerField()

    class Meta:
        db_table = "hotline_time_limit"
        constraints = [
            models.UniqueConstraint(fields=["category", "urgency"], name="hotline_time_limit_unique")
        ]
