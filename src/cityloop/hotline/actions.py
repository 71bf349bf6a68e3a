"""Every write to the hotline. Grouped by stage; import from here (``hotline.actions.open_case``)."""

from cityloop.hotline.followup.actions import record_follow_up
from cityloop.hotline.followup.citizen import (
    find_rating_link,
    issue_rating_link,
    rate_with_code,
    reissue_access_code,
)
from cityloop.hotline.handling.actions import (
    add_note,
    decide_extension,
    record_contact,
    reply_order,
    request_extension,
    return_order,
    reveal_contact,
    sign_order,
)
from cityloop.hotline.handling.cases import add_case_evidence, confirm_fixed, open_case, reopen_case
from cityloop.hotline.handling.comments import add_citizen_comment
from cityloop.hotline.handling.dispatch import (
    accept_suggestion,
    bulk_dispatch,
    classify_request,
    decide_arbitration,
    dispatch_request,
    merge_requests,
)
from cityloop.hotline.intake.actions import Submission, submit_request
from cityloop.hotline.intake.attachments import attach_photo
from cityloop.hotline.intake.support import support_request
from cityloop.hotline.models import Channel
from cityloop.hotline.whistles.actions import (
    arbitrate_dispute,
    assess_department,
    blow_whistle,
    close_whistle,
    complete_task,
    dispute_summons,
    rate_department,
    record_missed_report_ins,
    report_in,
)

__all__ = [
    "Channel",
    "Submission",
    "submit_request",
    "attach_photo",
    "support_request",
    "classify_request",
    "dispatch_request",
    "accept_suggestion",
    "bulk_dispatch",
    "merge_requests",
    "decide_arbitration",
    "sign_order",
    "return_order",
    "add_note",
    "record_contact",
    "request_extension",
    "decide_extension",
    "reply_order",
    "reveal_contact",
    "record_follow_up",
    "issue_rating_link",
    "reissue_access_code",
    "find_rating_link",
    "rate_with_code",
    "open_case",
    "add_case_evidence",
    "confirm_fixed",
    "reopen_case",
    "add_citizen_comment",
    "blow_whistle",
    "report_in",
    "dispute_summons",
    "arbitrate_dispute",
    "record_missed_report_ins",
    "complete_task",
    "close_whistle",
    "rate_department",
    "assess_department",
]
