"""Settings from the environment and `.env` (pydantic-settings). Secrets live only there."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rules.policy import Policy, default_policy_text

if TYPE_CHECKING:
    from bot.store.db import DbTimeouts


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(default="sqlite:///./rmbot.db", alias="DATABASE_URL")
    policy_file: Path | None = Field(default=None, alias="RMBOT_POLICY_FILE")
    templates_dir: Path | None = Field(default=None, alias="RMBOT_TEMPLATES_DIR")
    log_level: str = Field(default="INFO", alias="RMBOT_LOG_LEVEL")
    log_format: Literal["text", "json"] = Field(default="text", alias="RMBOT_LOG_FORMAT")
    """json: one JSON object per line, for a log collector (bot/logs.py)."""
    holidays_file: Path | None = Field(default=None, alias="RMBOT_HOLIDAYS_FILE")
    campaigns_file: Path | None = Field(default=None, alias="RMBOT_CAMPAIGNS_FILE")
    """A bank's campaign catalogue (products, audiences, SMS signature) over bot/campaigns/catalogue.yaml."""

    # Pushes (issue 5): Asia/Shanghai wall-clock times, on Chinese working days only.
    push_time_maturing: str = Field(default="08:30", alias="RMBOT_PUSH_TIME_MATURING")
    push_time_churn: str = Field(default="08:30", alias="RMBOT_PUSH_TIME_CHURN")
    push_time_downgrade: str = Field(default="08:30", alias="RMBOT_PUSH_TIME_DOWNGRADE")
    push_time_summary: str = Field(default="09:00", alias="RMBOT_PUSH_TIME_SUMMARY")
    push_outbox_dir: Path = Field(default=Path("var/outbox"), alias="RMBOT_PUSH_OUTBOX_DIR")

    def push_times(self) -> dict[str, str]:
        return {"maturing": self.push_time_maturing, "churn": self.push_time_churn,
                "downgrade": self.push_time_downgrade, "summary": self.push_time_summary}

    # Slack (issue 3)
    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = Field(default=None, alias="SLACK_API_URL")
    slack_team_id: str | None = Field(default=None, alias="SLACK_TEAM_ID")
    """The workspaces served (T…, comma-separated); unset: the bot token's own, learned by
    auth.test. Requests naming any other team are refused (bot/adapters/slack/workspace.py)."""

    @field_validator("slack_team_id")
    @classmethod
    def _team_ids(cls, value: str | None) -> str | None:
        """Checked at start-up: a typo would otherwise refuse every request of the real team."""
        ids = [t.strip() for t in (value or "").split(",") if t.strip()]
        bad = [t for t in ids if not (t[:1] in ("T", "E") and t[1:].isalnum() and t.isascii() and t.isupper()
                                      and len(t) >= 3)]
        if bad:
            raise ValueError(f"not Slack team ids (T… or E…, e.g. T0123ABCD): {', '.join(bad)}")
        return ",".join(ids) or None

    def slack_team_ids(self) -> frozenset[str]:
        return frozenset((self.slack_team_id or "").split(",")) - {""}

    # WeCom / 企业微信 (issue 4)
    wecom_corp_id: str | None = Field(default=None, alias="WECOM_CORP_ID")
    wecom_agent_id: int | None = Field(default=None, alias="WECOM_AGENT_ID")
    wecom_secret: SecretStr | None = Field(default=None, alias="WECOM_SECRET")
    wecom_token: SecretStr | None = Field(default=None, alias="WECOM_TOKEN")
    wecom_aes_key: SecretStr | None = Field(default=None, alias="WECOM_ENCODING_AES_KEY")
    wecom_api_url: str = Field(default="https://qyapi.weixin.qq.com", alias="WECOM_API_URL")
    wecom_userid_from_staff_id: bool = Field(default=False, alias="WECOM_USERID_FROM_STAFF_ID")
    """Where WeCom userids are the 工号: a staff import links wecom:<员工号 lowercased> for every
    staff member whose row names no wecom_userid (docs/wecom.md, "Link the RMs")."""

    # Tamper-evident audit log (issue 13): the HMAC key that chains audit rows, and retired keys
    # (comma-separated) kept only to verify older rows. See README, "Audit log".
    audit_key: SecretStr | None = Field(default=None, alias="RMBOT_AUDIT_KEY")
    audit_old_keys: SecretStr | None = Field(default=None, alias="RMBOT_AUDIT_OLD_KEYS")

    # Operations (issue 14): database timeouts (seconds), see bot/store/db.py. Interactive
    # processes (serve, chat, ask) bound each statement so a stalled database answers
    # 暂时不可用 within seconds; batch work (imports, builds, delivery) allows long statements.
    db_connect_timeout: float = Field(default=2.0, gt=0, alias="RMBOT_DB_CONNECT_TIMEOUT")
    db_statement_timeout: float = Field(default=3.0, gt=0, alias="RMBOT_DB_STATEMENT_TIMEOUT")
    db_batch_statement_timeout: float = Field(default=0.0, ge=0, alias="RMBOT_DB_BATCH_STATEMENT_TIMEOUT")
    """0: none."""
    db_busy_timeout: float = Field(default=2.0, gt=0, alias="RMBOT_DB_BUSY_TIMEOUT")
    """SQLite: how long a chat command's write waits for another writer (an import) before
    暂时不可用. A failed command writes its audit rows once more, so a command waits twice this."""
    shutdown_timeout: float = Field(default=20.0, gt=0, alias="RMBOT_SHUTDOWN_TIMEOUT")
    """On SIGTERM: seconds to finish what was accepted before exiting."""
    outbox_retention_days: int = Field(default=90, ge=1, alias="RMBOT_OUTBOX_RETENTION_DAYS")
    """Sent outbox rows are deleted after this many days (`rmbot push purge`, daily from the
    scheduler); a push day older than this can no longer be built (bot/store/retention.py)."""

    def db_timeouts(self, interactive: bool) -> "DbTimeouts":
        from bot.store.db import DbTimeouts

        if interactive:
            return DbTimeouts(connect=self.db_connect_timeout, statement=self.db_statement_timeout,
                              busy=self.db_busy_timeout, ping=min(1.0, self.db_statement_timeout))
        batch = self.db_batch_statement_timeout or None
        return DbTimeouts(connect=self.db_connect_timeout, statement=batch, busy=max(30.0, self.db_busy_timeout))

    host: str = Field(default="127.0.0.1", alias="RMBOT_HOST")
    port: int = Field(default=3000, alias="RMBOT_PORT")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def load_policy(settings: Settings) -> Policy:
    """Shipped defaults, overridden by the bank's file when RMBOT_POLICY_FILE is set."""
    texts = [default_policy_text()]
    if settings.policy_file is not None:
        texts.append(settings.policy_file.read_text(encoding="utf-8"))
    return Policy.from_texts(*texts)
