"""Every example in README.md and docs/*.md runs as written, so the docs cannot drift again.

Conventions (what a doc writer has to know):
* **Shell examples**: `rmbot …` lines (optionally after `$ `) in ```bash, ```sh or ```console
  blocks; a trailing `# …` is a comment. A line may hold several commands joined by ` | `
  (alternatives, each starting with `rmbot`, run one after the other on the same database).
  - A command written in usage notation (`[--opt]`, `<arg>`, `a|b`, `…`, upper-case placeholders
    such as FILE or N) is a synopsis: its command path must exist (`--help` exits 0) and every
    `--option` it names must be in that help.
  - Any other command is run in-process (`bot.cli.app`) on a fresh copy of a seeded SQLite
    database, in a temporary working directory holding the sample extracts, and must exit 0
    (or a code its comment documents: "exit 1 …", "exits 1 …") without a traceback.
  - Long-running commands (`serve`, `scheduler`) are in NOT_RUNNABLE_HERE below, with the test
    that starts them for real; their synopsis is still checked.
  - docs/slack.md and docs/wecom.md: their `$ rmbot …` steps need the fake Slack/WeCom servers
    and are run by tests/guides (whose `Guide.run` refuses a command the guide does not show).
* **Chat examples**: lines `STAFF> text` inside any fenced block (the console's prompt), a
  comment after two or more spaces. The lines of one block are typed, in order, into one console
  chat (`!N` presses button N of the previous answer) as STAFF on the seeded demo bank; each
  answer must not be an error (`✖`, 没有这个按钮) unless its comment says "refused".
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.adapters.console import repl
from bot.cli import app
from bot.config import get_settings
from bot.testing import Harness, seeded_sqlite

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GUIDES = {"docs/slack.md", "docs/wecom.md"}
SHELL_FENCES = {"bash", "sh", "console"}

NOT_RUNNABLE_HERE = {
    "serve": "a server that runs until stopped: tests/ops (test_inbox_slack.py, test_graceful_shutdown.py, "
             "test_probes_and_startup.py) start `rmbot serve slack|wecom` as a subprocess against the fake servers",
    "scheduler": "runs until stopped: the scheduler's jobs are tested in tests/push/test_concurrency_schedule.py "
                 "and tests/ops/test_catch_up.py",
}
"""First word after `rmbot` → why the command is not run here (its --help still is)."""

OUTSIDE = {"/data/extracts/": "data/extracts/"}
"""Absolute paths in examples → where the test puts them inside its working directory."""

SYNOPSIS = re.compile(r"[\[\]<>|…]|\b(?:FILE|N|S|D|YYYY-MM-DD|SEQ:MAC)\b")


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    text: str
    fence: str
    comment: str = ""
    staff: str = ""

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


def _blocks(path: Path) -> Iterator[tuple[str, int, str]]:
    """(fence language, line number, line) of every line inside a fenced block."""
    fence: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        marker = re.match(r"^\s*```(\S*)", line)
        if marker:
            fence = marker.group(1) if fence is None else None
            continue
        if fence is not None:
            yield fence, number, line


def shell_examples() -> list[Example]:
    found = []
    for path in DOCS:
        doc = path.relative_to(ROOT).as_posix()
        for fence, number, line in _blocks(path):
            command = line.strip().removeprefix("$ ")
            if fence not in SHELL_FENCES or not command.startswith("rmbot "):
                continue
            text, _, comment = command.partition("  #")
            found.append(Example(doc, number, text.strip(), fence, comment.strip()))
    return found


def chat_blocks() -> list[list[Example]]:
    blocks: dict[tuple[str, int], list[Example]] = {}
    for path in DOCS:
        doc = path.relative_to(ROOT).as_posix()
        last = -2
        for fence, number, line in _blocks(path):
            m = re.match(r"^(?P<staff>[A-Z]+\d+)> (?P<text>.+?)(?: {2,}(?P<comment>.*))?$", line)
            if not m:
                continue
            key = (doc, number) if number != last + 1 else next(reversed(blocks))
            blocks.setdefault(key, []).append(
                Example(doc, number, m["text"].strip(), fence, (m["comment"] or "").strip(), m["staff"]))
            last = number
    return list(blocks.values())


SHELL = shell_examples()
CHATS = chat_blocks()


def test_the_docs_have_examples_to_check() -> None:
    """The extraction itself: a broken convention would silently check nothing."""
    assert len(SHELL) >= 30 and sum(len(b) for b in CHATS) >= 5
    assert any(e.doc == "docs/IMPORT.md" for e in SHELL) and any(e.doc == "docs/SECURITY.md" for e in SHELL)


# -- running the CLI in-process ---------------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("examples") / "bank.db"
    seeded_sqlite(db, customers=60, seed=3).dispose()
    return db


@pytest.fixture
def workdir(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh database and the sample extracts under the names the examples use."""
    shutil.copyfile(template, tmp_path / "bank.db")
    samples = ROOT / "samples"
    shutil.copytree(samples, tmp_path / "samples")
    for sample in samples.iterdir():
        shutil.copyfile(sample, tmp_path / sample.name)
    shutil.copyfile(samples / "holdings_20261120.xlsx", tmp_path / "holdings.xlsx")
    shutil.copyfile(samples / "balances_20261120.csv", tmp_path / "today.csv")
    (tmp_path / "data" / "extracts").mkdir(parents=True)
    shutil.copyfile(samples / "balances_20261120.csv", tmp_path / "data" / "extracts" / "balances_20261120.csv")
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith(("SLACK_", "WECOM_", "RMBOT_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bank.db'}")
    monkeypatch.setenv("RMBOT_PUSH_OUTBOX_DIR", str(tmp_path / "outbox"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def invoke(args: list[str]) -> tuple[int, str]:
    get_settings.cache_clear()
    result = CliRunner().invoke(app, args)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += "".join(traceback.format_exception(result.exception))
        return 99, output
    return result.exit_code, output


def command_paths(synopsis: list[str]) -> list[list[str]]:
    """The subcommand path(s) a synopsis names: `push run|status` → [push, run], [push, status]."""
    paths: list[list[str]] = [[]]
    for word in synopsis:
        if word.startswith(("-", "[", "<", '"')) or SYNOPSIS.fullmatch(word) or not re.fullmatch(r"[a-z|-]+", word):
            break
        paths = [p + [alt] for p in paths for alt in word.split("|") if alt]
    return paths


@pytest.mark.parametrize("example", [e for e in SHELL if e.doc not in GUIDES], ids=str)
def test_shell_example(example: Example, workdir: Path) -> None:
    for command in re.split(r" \| (?=rmbot )", example.text):
        words = shlex.split(command.replace("…", " … "))
        assert words[0] == "rmbot", example
        if SYNOPSIS.search(command) or words[1] in NOT_RUNNABLE_HERE:
            for path in command_paths(words[1:]):
                code, help_text = invoke([*path, "--help"])
                assert code == 0, f"{example}\nrmbot {' '.join(path)} --help: {help_text}"
                flat = re.sub(r"\s+", " ", help_text)
                for option in re.findall(r"(--[a-z][a-z-]*)", command):
                    assert option in flat or len(path) == 0, f"{example}: {option} not in `{' '.join(path)} --help`"
            continue
        args = [OUTSIDE.get(w, w) for w in words[1:]]
        code, output = invoke(args)
        assert "Traceback" not in output, f"{example}\n{output}"
        allowed = {0, *(int(c) for c in re.findall(r"\bexits? (\d)", example.comment))}
        assert code in allowed, f"{example}\nexit {code}, documented {sorted(allowed)}\n{output}"


def test_examples_not_run_here_are_named_with_a_reason() -> None:
    named = {shlex.split(e.text)[1] for e in SHELL if shlex.split(e.text)[1] in NOT_RUNNABLE_HERE}
    assert named == set(NOT_RUNNABLE_HERE)  # no stale entry
    assert all(len(reason) > 40 for reason in NOT_RUNNABLE_HERE.values())


def test_guide_steps_are_run_by_the_guide_tests() -> None:
    """docs/slack.md and docs/wecom.md steps are run by tests/guides; each of their commands
    appears in those tests (by its subcommand words), so none is left unrun."""
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests" / "guides").glob("test_*.py"))
    for example in (e for e in SHELL if e.doc in GUIDES):
        words = shlex.split(example.text)
        if words[1] in NOT_RUNNABLE_HERE:
            continue
        assert " ".join(words[:4]) in sources, f"{example}: no test in tests/guides runs it"


# -- chat examples ---------------------------------------------------------------------------
@pytest.mark.parametrize("block", CHATS, ids=lambda b: f"{b[0].doc}:{b[0].line}")
def test_chat_examples(block: list[Example], rmbot: Harness, tmp_path: Path) -> None:
    staff = {e.staff for e in block}
    assert len(staff) == 1, block
    lines = iter([e.text for e in block])
    written: list[str] = []

    def read(prompt: str) -> str:
        written.append(prompt)
        return next(lines)  # StopIteration → EOFError below ends the chat

    def read_or_eof(prompt: str) -> str:
        try:
            return read(prompt)
        except StopIteration:
            raise EOFError from None

    repl(rmbot.bot, staff.pop(), "dm", read_or_eof, written.append, charts_dir=tmp_path)
    transcript = "".join(written)
    answers = transcript.split(f"{block[0].staff}> ")[1:-1]  # after each prompt, up to the next one
    assert len(answers) == len(block), transcript
    for example, answer in zip(block, answers):
        refused = "refused" in example.comment
        failed = "== ✖ " in answer or "没有这个按钮" in answer or "Traceback" in answer
        assert failed == refused, f"{example}\n{answer}"
