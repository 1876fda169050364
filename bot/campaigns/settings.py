"""Where campaign copy and the catalogue come from: shipped files, or the bank's overrides.

Two settings: RMBOT_TEMPLATES_DIR (the templates directory every renderer shares) and
RMBOT_CAMPAIGNS_FILE (the bank's catalogue: products, audience parameters, SMS signature).
Both are read from `bot.config.Settings` when it declares them, else from the environment,
so the feature works before and after the setting is added to `Settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.campaigns.catalogue import Catalogue, load_catalogue
from bot.config import get_settings
from bot.core.errors import ServiceUnavailable

CAMPAIGNS_FILE_ENV = "RMBOT_CAMPAIGNS_FILE"


@dataclass(frozen=True)
class CampaignSettings:
    templates_dir: str | None
    catalogue_file: Path | None


def campaign_settings() -> CampaignSettings:
    settings = get_settings()
    templates = settings.templates_dir
    catalogue = getattr(settings, "campaigns_file", None)
    if catalogue is None and os.environ.get(CAMPAIGNS_FILE_ENV, "").strip():
        catalogue = Path(os.environ[CAMPAIGNS_FILE_ENV].strip())
    return CampaignSettings(str(templates) if templates else None, Path(catalogue) if catalogue else None)


def catalogue_for(settings: CampaignSettings) -> Catalogue:
    """The catalogue, or an operator-facing error naming the file that is wrong."""
    try:
        return load_catalogue(settings.catalogue_file)
    except (OSError, ValueError) as exc:
        raise ServiceUnavailable(
            f"营销目录文件无效 {settings.catalogue_file}：{str(exc)[:300]}。请联系管理员检查 {CAMPAIGNS_FILE_ENV}。"
            " The campaign catalogue file is invalid."
        ) from exc
