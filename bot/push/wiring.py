"""Assemble the push machinery from settings: calendar, service, senders, worker."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.calendar_data import load_calendar
from bot.config import Settings
from bot.push.delivery import DeliveryWorker
from bot.push.senders import FileSender, Sender
from bot.push.service import PushService, Renderer
from rules.policy import Policy


def configured_senders(settings: Settings, engine: Engine | None = None) -> dict[str, Sender]:
    """The file sender always; Slack and WeCom when their settings are present. `engine` is the
    database Slack resolves RM mentions from (its own engine on DATABASE_URL if not given)."""
    from bot.server import configured_platforms

    senders: dict[str, Sender] = {"file": FileSender()}
    platforms = configured_platforms(settings)
    if "slack" in platforms:
        from bot.adapters.slack.push import SlackSender

        senders["slack"] = SlackSender.from_settings(settings, engine)
        senders.update(_slack_replies(settings, engine))
    if "wecom" in platforms:
        from bot.adapters.wecom.push import WeComAppChatSender, WeComMemberSender, WeComRobotSender

        senders["wecom_appchat"] = WeComAppChatSender.from_settings(settings)
        senders["wecom_robot"] = WeComRobotSender.from_settings(settings)
        # chat replies the inbox queued (normally sent by `rmbot serve` itself): any worker may
        # finish what a stopped server left, never fail them for want of a sender
        member = WeComAppChatSender.from_settings(settings)
        senders["wecom_member"] = WeComMemberSender(member.client, member.templates_dir)
    return senders


def _slack_replies(settings: Settings, engine: Engine | None) -> dict[str, Sender]:
    """Chat replies the inbox queued for Slack (normally sent by `rmbot serve` itself)."""
    from bot.adapters.slack.client import make_client
    from bot.adapters.slack.delivery import Delivery
    from bot.adapters.slack.replies import SlackPostSender, SlackRespondSender

    templates = str(settings.templates_dir) if settings.templates_dir else None
    delivery = Delivery(make_client(settings), engine, templates)
    return {"slack_post": SlackPostSender(delivery), "slack_respond": SlackRespondSender(delivery)}


def configured_renderers(settings: Settings, engine: Engine) -> dict[str, Renderer]:
    """Platforms whose rows are rendered when the push is built (Slack, when configured); the
    others render at send."""
    from bot.server import configured_platforms

    if "slack" not in configured_platforms(settings):
        return {}
    from bot.adapters.slack.push import SlackSender

    return {"slack": SlackSender.from_settings(settings, engine).render}


def push_service(engine: Engine, policy: Policy, settings: Settings) -> PushService:
    return PushService(engine, policy, load_calendar(settings.holidays_file), configured_renderers(settings, engine),
                       retention_days=settings.outbox_retention_days)


def delivery_worker(engine: Engine, settings: Settings) -> DeliveryWorker:
    return DeliveryWorker(engine, configured_senders(settings, engine))
