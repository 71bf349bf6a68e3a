"""The hotline's tables, one module per sub-domain; other code imports them from here."""

from cityloop.hotline.models.governance import GovernanceTask, HotIssueWarning
from cityloop.hotline.models.learning import ClassifierRun, LabelledExample
from cityloop.hotline.models.performance import MonthlyStat
from cityloop.hotline.models.requests import (
    Arbitration,
    Attachment,
    Channel,
    DailyCounter,
    Event,
    Extension,
    FollowUp,
    IdempotencyKey,
    Order,
    OrderStatus,
    RatingLink,
    Request,
    RequestKind,
    Status,
    Supporter,
    TimeLimit,
    Urgency,
)
from cityloop.hotline.models.whistles import (
    Assessment,
    Summons,
    SummonStatus,
    Whistle,
    WhistleStatus,
)

__all__ = [
    "Arbitration",
    "Assessment",
    "Attachment",
    "Channel",
    "ClassifierRun",
    "DailyCounter",
    "Event",
    "Extension",
    "FollowUp",
    "GovernanceTask",
    "HotIssueWarning",
    "IdempotencyKey",
    "LabelledExample",
    "MonthlyStat",
    "Order",
    "OrderStatus",
    "RatingLink",
    "Request",
    "RequestKind",
    "Status",
    "Supporter",
    "SummonStatus",
    "Summons",
    "TimeLimit",
    "Urgency",
    "Whistle",
    "WhistleStatus",
]
