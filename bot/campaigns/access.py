"""Who may see, submit, approve and reject a draft: the approval step's rules in one place.

Staff may post only marketing their institution reviewed (银发〔2019〕316号), so approval is the
branch manager's (or, for the branches below them, the regional manager's), never an RM's, and
never the author's own: a second pair of eyes is the point of the step.
"""

from __future__ import annotations

from bot.core.context import StaffView
from bot.core.registry import MANAGERS
from bot.store.scope import is_under


def can_view(staff: StaffView, branch_path: str) -> bool:
    """Staff of the branch (RMs at its 网点 too) and the managers above it."""
    return is_under(staff.org_path, branch_path) or is_under(branch_path, staff.org_path)


def approval_refusal(staff: StaffView, branch_path: str, author_id: str) -> str | None:
    """Why `staff` may not approve or reject a draft of that branch, or None if they may."""
    if staff.role not in MANAGERS:
        return "客户经理不能审批营销文案，请由支行负责人审批。Only managers approve campaign copy."
    if not is_under(branch_path, staff.org_path):
        return "只能审批本支行（分行管理者：辖内支行）的草稿。You may approve drafts of your own branches only."
    if staff.id == author_id:
        return "不能审批自己起草的文案，请由上级或其他负责人审批。Authors cannot approve their own drafts."
    return None


def can_see_draft_text(staff: StaffView, author_id: str, status: str) -> bool:
    """Unapproved copy stays with its author and the approvers: RMs get approved text only."""
    return status == "approved" or staff.id == author_id or staff.role in MANAGERS
