"""Staff and chat identities: linking a Slack/WeCom user to a staff member.

A link decides whose customers a chat account sees, so every link and unlink writes an audit
row in the same transaction as the change (no change without its row, no row without the change).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from bot.store.actors import Actor, audit_entry
from bot.store.models import ChatIdentity, Staff

PLATFORMS = ("slack", "wecom")


def normalise_external_id(platform: str, external_id: str) -> str:
    """The one spelling of a chat account id, for storing and for looking up.

    WeCom userids are case-insensitive (WeCom treats `WangFang` and `wangfang` as one member and
    may send either), so they are kept lowercase; Slack ids are case-sensitive and kept as sent."""
    value = external_id.strip()
    return value.lower() if platform == "wecom" else value


def lookup_ids(platform: str, external_id: str) -> list[str]:
    """The stored ids a chat user may be linked under: the normalised id and, for rows linked
    before ids were normalised, the id exactly as the platform sent it. Both are primary-key
    lookups (a lower() on the column would scan the table on every message: 3–8 ms at 10,000
    links). A legacy row in a third spelling is not found: re-link it (README, "Run on WeCom")."""
    key = normalise_external_id(platform, external_id)
    raw = external_id.strip()
    return [key] if raw == key else [key, raw]


def _same_account(session: Session, platform: str, key: str) -> list[ChatIdentity]:
    """Every row naming this account in any spelling (legacy mixed-case rows included). Admin
    path only: the lower() here scans, which a link or unlink can afford."""
    if platform != "wecom":
        row = session.get(ChatIdentity, (platform, key))
        return [row] if row is not None else []
    return list(session.execute(select(ChatIdentity).where(
        ChatIdentity.platform == platform, func.lower(ChatIdentity.external_id) == key)).scalars())


def link_identity(session: Session, platform: str, external_id: str, staff_id: str,
                  actor: Actor | None = None) -> ChatIdentity:
    """Idempotent: re-linking moves the chat account to the given staff member. Audited as done by
    `actor` (default: the OS account running rmbot)."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
    if session.get(Staff, staff_id) is None:
        raise LookupError(f"unknown staff id {staff_id}")
    given = external_id.strip()
    external_id = normalise_external_id(platform, external_id)
    if not external_id:
        raise ValueError("empty chat account id")
    rows = _same_account(session, platform, external_id)
    others = [r for r in rows if r.staff_id != staff_id]
    if (len(rows) > 1 and others) or (others and others[0].external_id != given):
        # `LiBM` after `libm`: one WeCom member; moving it needs the exact id or an unlink first
        linked = "、".join(f"{r.external_id} → {r.staff_id}" for r in rows)
        raise ValueError(f"企业微信账号不区分大小写，{platform}:{given} 已关联（{linked}）；如需改为 {staff_id}，"
                         f"请先 rmbot staff unlink {platform} {rows[0].external_id}。"
                         f"WeCom userids are case-insensitive: {given} is already linked ({linked}).")
    for legacy in rows:
        if legacy.external_id != external_id:  # a row from before ids were normalised
            session.delete(legacy)
            session.flush()
    identity = session.get(ChatIdentity, (platform, external_id))
    before = rows[0].staff_id if rows else None
    if identity is None:
        identity = ChatIdentity(platform=platform, external_id=external_id, staff_id=staff_id)
        session.add(identity)
    else:
        identity.staff_id = staff_id
    _audit(session, actor, "staff_link", platform, external_id,
           f"{platform}:{external_id} -> {staff_id} (before: {before or 'not linked'})")
    session.flush()
    return identity


def unlink_identity(session: Session, platform: str, external_id: str, actor: Actor | None = None) -> bool:
    """Removes the link of this account in whatever spelling it was linked (ValueError if several
    rows spell it differently and none exactly as given: the operator picks one)."""
    given = external_id.strip()
    rows = _same_account(session, platform, normalise_external_id(platform, external_id))
    exact = [r for r in rows if r.external_id == given]
    if len(rows) > 1 and not exact:
        raise ValueError(f"多个关联仅大小写不同：{'、'.join(r.external_id for r in rows)}；请写出要解除的那一个。"
                         f"Several links differ only by case; name the one to remove.")
    identity = (exact or rows or [None])[0]
    if identity is None:
        return False
    external_id = identity.external_id
    _audit(session, actor, "staff_unlink", platform, external_id,
           f"{platform}:{external_id} -> not linked (before: {identity.staff_id})")
    session.delete(identity)
    return True


def _audit(session: Session, actor: Actor | None, action: str, platform: str, external_id: str, detail: str) -> None:
    session.add(audit_entry(actor or Actor.cli(), action=action, target=f"{platform}:{external_id}",
                            outcome="allowed", detail=detail))


def identities_of(session: Session, staff_ids: list[str], platform: str) -> dict[str, str]:
    """staff id → platform user id, for @-mentions in group pushes."""
    rows = session.execute(
        select(ChatIdentity.staff_id, ChatIdentity.external_id).where(
            ChatIdentity.platform == platform, ChatIdentity.staff_id.in_(staff_ids)
        )
    )
    return {staff_id: external_id for staff_id, external_id in rows}
