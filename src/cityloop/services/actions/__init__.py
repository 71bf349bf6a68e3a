"""Every write of the government services; other code imports them from here (``services.actions.X``).

``applications``: applying, the window, approvals, results, ratings; ``catalogue``: items, drafts,
publishing, snapshots, bundles.
"""

from cityloop.services.actions.applications import (
    accept_application,
    answer_situations,
    approve_task,
    close_rectification,
    deliver_results,
    escalate_overdue,
    fetch_records,
    rate_application,
    refuse_task,
    resume_task,
    seal_installed,
    send_correction_notice,
    sign_commitment,
    start_application,
    submit_application,
    suspend_task,
    upload_material,
    verify_identity,
)
from cityloop.services.actions.catalogue import (
    create_bundle,
    create_item,
    publish_version,
    start_draft,
    take_snapshot,
    update_draft,
)

__all__ = [
    "accept_application",
    "answer_situations",
    "approve_task",
    "close_rectification",
    "create_bundle",
    "create_item",
    "deliver_results",
    "escalate_overdue",
    "fetch_records",
    "publish_version",
    "rate_application",
    "refuse_task",
    "resume_task",
    "seal_installed",
    "send_correction_notice",
    "sign_commitment",
    "start_application",
    "start_draft",
    "submit_application",
    "suspend_task",
    "take_snapshot",
    "update_draft",
    "upload_material",
    "verify_identity",
]
