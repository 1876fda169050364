"""The console adapter: the demo's chat window and `rmbot ask`, run exactly like a chat adapter."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot import clock

from bot.core.app import Rmbot
from bot.core.reply import Reply
from bot.core.request import ActionRequest, ChannelKind, Request
from bot.render.text import render_text


def ask(bot: Rmbot, staff_id: str, text: str, channel: ChannelKind = "dm", now: datetime | None = None) -> Reply:
    return bot.handle(Request(text=text, platform="console", user_id=staff_id, channel_kind=channel,
                              channel_id=f"console-{channel}", received_at=now or clock.now()))


def click(bot: Rmbot, staff_id: str, action: str, value: str, channel: ChannelKind = "dm",
          now: datetime | None = None) -> Reply:
    return bot.handle_action(ActionRequest(action=action, value=value, platform="console", user_id=staff_id,
                                           channel_kind=channel, channel_id=f"console-{channel}",
                                           received_at=now or clock.now()))


def as_json(reply: Reply) -> str:
    return json.dumps(reply.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False, indent=2)


CHARTS_DIR = Path("var/charts")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def save_images(reply: Reply, folder: Path = CHARTS_DIR) -> list[Path]:
    """A terminal cannot show a chart: write each to `folder/<filename>` (replacing an older one
    of the same name) and return the paths, which the console prints."""
    paths = []
    for image in reply.images:
        name = _UNSAFE.sub("_", Path(image.filename).name) or "chart.png"
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image.data)
        paths.append(path)
    return paths


def image_lines(reply: Reply, folder: Path = CHARTS_DIR) -> str:
    """"图表已保存：…" lines for the charts of a reply (empty when it has none)."""
    return "".join(f"  图表已保存 Chart saved：{path}（{image.title}）\n"
                   for image, path in zip(reply.images, save_images(reply, folder)))


def repl(bot: Rmbot, staff_id: str, channel: ChannelKind, read: Callable[[str], str], write: Callable[[str], None],
         templates_dir: str | None = None, charts_dir: Path = CHARTS_DIR) -> None:
    """Interactive loop. Buttons in a reply can be pressed by typing their number (`!1`)."""
    write(render_text(ask(bot, staff_id, "/whoami", channel), templates_dir))
    write("输入命令（/help 查看，!N 点击第 N 个按钮，exit 退出）\n")
    buttons: list[tuple[str, str]] = []
    while True:
        try:
            line = read(f"{staff_id}> ").strip()
        except (EOFError, KeyboardInterrupt):
            write("\n")
            return
        if line in ("exit", "quit", "退出"):
            return
        if not line:
            continue
        if line.startswith("!") and line[1:].isdigit():
            k = int(line[1:]) - 1
            if not 0 <= k < len(buttons):
                write("没有这个按钮。No such button.\n")
                continue
            reply = click(bot, staff_id, buttons[k][0], buttons[k][1], channel)
        else:
            reply = ask(bot, staff_id, line, channel)
        write(render_text(reply, templates_dir) + image_lines(reply, charts_dir))
        buttons = [(b.action, b.value) for b in reply.buttons]
        for sec in [reply, *reply.sections]:
            for item in sec.items:
                buttons += [(b.action, b.value) for b in item.buttons]
        if buttons:
            write("  按钮：" + "  ".join(f"!{i + 1}" for i in range(len(buttons))) + "\n")
