"""The hotline API's JSON shapes (pydantic v2 via Django Ninja); they document /api/v1/openapi.json."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema

from cityloop.core.doors.inputs import Input

NO = "R261126-00042"


class FieldError(Schema):
    field: str = Field(
        description="The input field at fault (`__all__` when no single field is).", examples=["caller_phone"]
    )
    message: str = Field(
        description="What is wrong and the rule it breaks.",
        examples=["digits only (with an optional +, spaces or dashes), 5 to 20 characters"],
    )


class Errors(Schema):
    """Every bad field of the input, each with the rule it breaks; nothing was stored."""

    detail: list[FieldError]


class Problem(Schema):
    """Why the call was refused (401 no or bad token, 403 not allowed, 404 unknown, 409 conflict)."""

    detail: str = Field(examples=["Not Found"])


class SubmitIn(Input):
    """A citizen request as a client application files it."""

    description: str = Field(
        description="What happened, in the citizen's words (at most 4000 characters).",
        examples=["楼里停水了，一整天没有水"],
    )
    title: str = Field(
        "",
        max_length=200,
        description="A short title; the first line of the description if empty.",
        examples=["停水"],
    )
    caller_name: str = Field("", max_length=100, examples=["王小明"])
    caller_phone: str = Field(
        "",
        description="Digits with an optional +, spaces or dashes; the request's "
        "access code and rating code are texted to it.",
        examples=["13812345678"],
    )
    caller_email: str = Field("", examples=["wang@example.cn"])
    address: str = Field(
        "",
        max_length=300,
        description="Address text; needed when lon/lat are not given.",
        examples=["西城区金融街购物中心"],
    )
    lon: float | None = Field(None, description="WGS84 longitude; give it with lat.", examples=[116.36])
    lat: float | None = Field(None, description="WGS84 latitude; give it with lon.", examples=[39.91])
    category: str = Field(
        "",
        description="A category code of the city's 3-level tree; left empty, the "
        "classifier suggests one and the dispatcher decides.",
        examples=["02.01.01"],
    )
    urgency: Literal["normal", "urgent"] = Field(
        "normal", description="Urgent requests must be answered within 2 working hours, others 24."
    )
    kind: Literal["", "consult", "help", "complaint", "report", "suggestion"] = Field(
        "",
        description="诉求类型: consult (咨询), help (求助), complaint (投诉), report (举报), "
        "suggestion (建议); empty when not asked.",
    )
    complex: bool = Field(False, description="A complex case gets 15 working days instead of 7.")
    confidential: bool = Field(False, description="Hide the caller from everyone but the dispatchers.")
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="Free key/value facts from the client.", examples=[{"floor": 6}]
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "description": "楼里停水了，一整天没有水",
                    "caller_name": "王小明",
                    "caller_phone": "13812345678",
                    "lon": 116.36,
                    "lat": 39.91,
                    "category": "02.01.01",
                }
            ]
        }
    }


class Place(Schema):
    code: str = Field(examples=["110102014"])
    name: str = Field(examples=["金融街街道"])


class Contact(Schema):
    name: str = Field(description="Masked (王**) unless the caller may be seen.", examples=["王**"])
    phone: str = Field(
        description="Masked (138****5678) unless the caller may be seen.", examples=["138****5678"]
    )
    email: str = Field(description="Empty unless the caller may be seen.")
    masked: bool = Field(
        description="True when the contact is masked; `POST .../reveal-contact` shows it "
        "to someone allowed, and is audited."
    )


class RequestOut(Schema):
    """A request as its reader may see it (the caller masked unless allowed)."""

    tracking_no: str = Field(examples=[NO])
    status: str = Field(
        examples=["new"],
        description="new, dispatched, in_progress, replied, awaiting_verification, closed or merged",
    )
    channel: str = Field(examples=["api"])
    title: str
    description: str
    address: str
    lon: float | None
    lat: float | None
    district: Place | None
    street: Place | None
    community: Place | None
    category: str | None = Field(description="The category code the dispatcher chose (or the caller gave).")
    suggested_category: str | None = Field(
        description="The classifier's suggestion, never applied by itself."
    )
    suggestion_confidence: float | None
    urgency: str
    kind: str = Field(description="诉求类型 (consult, help, complaint, report, suggestion), or empty.")
    complex: bool
    confidential: bool
    caller: Contact
    created_at: datetime
    response_due: datetime | None = Field(description="Respond by (working time on the city's calendar).")
    finish_due: datetime | None = Field(description="Finish by (working time on the city's calendar).")
    merged_into: str | None = Field(description="The primary request's number when merged.")
    attributes: dict[str, Any]


class EventOut(Schema):
    at: datetime
    kind: str = Field(examples=["dispatched"])
    text: str
    public: bool = Field(description="Shown to the citizen on the track page.")
    actor: str | None = Field(description="Who did it (username); none for the system or the public view.")
    data: dict[str, Any]


class OrderOut(Schema):
    id: int
    tracking_no: str
    unit_kind: Literal["street", "department"]
    unit: Place
    route: str = Field(description="direct (直派), street, first_receiver (首接负责), reopened or arbitrated")
    lead: bool
    status: str = Field(description="pending, signed, returned, replied or cancelled")
    dispatched_at: datetime
    response_due: datetime
    finish_due: datetime
    timer: str = Field(
        description="ok, nearly_overdue or overdue (the response limit until signed, then the finish limit)"
    )
    signed_at: datetime | None
    returned_reason: str
    replied_at: datetime | None
    reply: str
    outcome: str


class RequestDetail(RequestOut):
    orders: list[OrderOut]
    timeline: list[EventOut] = Field(description="Every event for staff; the public ones for the citizen.")
    photos: int = Field(description="How many photos are attached.")
    resolved: bool | None
    satisfaction: str


class Page(Schema):
    count: int = Field(description="Rows matching the filters.")
    offset: int
    limit: int
    items: list[RequestOut]


class QueueItem(Schema):
    tracking_no: str
    title: str
    created_at: datetime
    street: Place | None
    category: str | None
    suggested_category: str | None
    suggestion_confidence: float | None
    suggested_units: list[str] = Field(
        description="Where the responsibility list points (kind:code), "
        "taken by `dispatch` with `accept_suggestion`.",
        examples=[["department:WATER"]],
    )
    response_due: datetime | None
    timer: str


class ClassifyIn(Input):
    category: str = Field(description="The category code the dispatcher chooses.", examples=["02.01.01"])


class UnitRef(Schema):
    kind: Literal["street", "department"]
    code: str = Field(examples=["WATER"])


class DispatchIn(Input):
    accept_suggestion: bool = Field(
        False,
        description="Dispatch where the responsibility list points (one click); `units` must then be empty.",
    )
    units: list[UnitRef] = Field(
        default_factory=list,
        description="The units to send orders to; the first leads a cross-unit case (首接负责).",
    )
    note: str = ""


class BulkIn(Input):
    tracking_nos: list[str] = Field(min_length=1, max_length=200, examples=[[NO]])


class Skipped(Schema):
    tracking_no: str
    reason: str


class BulkOut(Schema):
    dispatched: list[str]
    skipped: list[Skipped]


class MergeIn(Input):
    into: str = Field(description="The primary request's tracking number.", examples=[NO])


class ExtensionOut(Schema):
    id: int
    order_id: int
    tracking_no: str
    days: int
    reason: str
    requested_at: datetime
    approved: bool | None
    decision_note: str


class DecideExtensionIn(Input):
    approve: bool
    note: str = Field("", description="Required when refusing.")


class ArbitrationOut(Schema):
    id: int
    tracking_no: str
    opened_at: datetime
    units: list[str]
    reason: str
    decided_at: datetime | None
    decision: str


class DecideArbitrationIn(Input):
    unit: UnitRef
    decision: str = Field(description="Why this unit must handle it.")


class FollowUpIn(Input):
    resolved: bool
    satisfaction: Literal["satisfied", "basic", "unsatisfied"]
    comment: str = ""


class FollowUpOut(Schema):
    tracking_no: str
    channel: str
    resolved: bool
    satisfaction: str
    reopened: bool = Field(description="The answer reopened the case to the same units.")


class RevealIn(Input):
    reason: str = Field("", description="Why the contact is needed (required; kept in the audit trail).")


class ContactOut(Schema):
    name: str
    phone: str
    email: str


class ReturnIn(Input):
    reason: str = Field(description="What the dispatcher must know to send it elsewhere.")


class NoteIn(Input):
    text: str
    public: bool = Field(False, description="Show the note on the citizen's track page.")


class ContactIn(Input):
    channel: Literal["phone", "visit", "sms", "email"]
    summary: str


class ExtensionIn(Input):
    days: int = Field(ge=1, le=30, description="Working days to add to the finish limit.")
    reason: str


class ReplyIn(Input):
    outcome: Literal["resolved", "partial", "explained", "unresolvable", "fixed"]
    text: str = Field(description="The answer to the citizen (办结).")


class PhotoOut(Schema):
    id: int
    content_type: str = Field(examples=["jpeg"])
    size: int
    location_kept: bool


class TrackOut(Schema):
    """The public view: no caller, no internal notes."""

    tracking_no: str
    status: str
    title: str
    created_at: datetime
    street: str | None
    finish_due: datetime | None
    timeline: list[EventOut]


# The error answers every hotline endpoint may give, for the OpenAPI document.
ERRORS = {400: Errors, 401: Problem, 403: Problem, 404: Problem}
