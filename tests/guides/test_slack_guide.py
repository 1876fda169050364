"""docs/slack.md, step by step against the fake Slack: destinations, the bot's membership, linking."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from bot.store.db import make_engine
from bot.store.models import AuditLog, ChatIdentity, PushDestination, Staff
from tests.fakes.slack_api import FakeSlackAPI
from tests.guides.conftest import Guide


def test_destinations_and_check(slack_guide: Guide, fake_slack: FakeSlackAPI) -> None:
    for command in ("rmbot push dest set SB01 slack C0SB01PUSH", "rmbot push dest set SB02 slack C0SB02PUSH"):
        done = slack_guide.run(command)
        assert done.returncode == 0, done.stderr
    fake_slack.not_member("C0SB02PUSH")  # the operator forgot /invite @rmbot in SB02's channel
    check = slack_guide.run("rmbot push dest check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "OK   SB01" in check.stdout
    assert "FAIL SB02" in check.stderr and "/invite @rmbot" in check.stderr and "C0SB02PUSH" in check.stderr
    assert {c.params["channel"] for c in fake_slack.calls("conversations.info")} == {"C0SB01PUSH", "C0SB02PUSH"}
    fake_slack.reset()  # invited now
    again = slack_guide.run("rmbot push dest check")
    assert again.returncode == 0 and "可用。All" in again.stdout, again.stderr


def test_a_missing_channel_and_a_missing_scope_are_reported(slack_guide: Guide, fake_slack: FakeSlackAPI) -> None:
    assert slack_guide.run("rmbot push dest set SB01 slack C0SB01PUSH").returncode == 0
    fake_slack.remove_channel("C0SB01PUSH")
    gone = slack_guide.run("rmbot push dest check")
    assert gone.returncode == 1 and "不存在" in gone.stderr and "Traceback" not in gone.stderr
    fake_slack.reset()
    fake_slack.fail("conversations.info", status=200, error="missing_scope")
    scope = slack_guide.run("rmbot push dest check")
    assert scope.returncode == 1 and "channels:read" in scope.stderr


def test_link_sync_and_status(slack_guide_any: Guide, fake_slack: FakeSlackAPI) -> None:
    """On SQLite and PostgreSQL: the sync links through the same audited path as `staff link`."""
    slack_guide = slack_guide_any
    engine = make_engine(slack_guide.env["DATABASE_URL"])
    with Session(engine) as s:  # as a staff import with an email column would leave them
        staff_rows = list(s.execute(select(Staff).where(Staff.active.is_(True)).order_by(Staff.id)).scalars())
        for n, staff in enumerate(staff_rows):
            staff.email = f"{staff.id.lower()}@bank.example" if n % 4 else None
        rms = [st.id for st in staff_rows]
        s.commit()
    with_email = [sid for n, sid in enumerate(rms) if n % 4]
    in_slack = with_email[:-1]  # the last one has no Slack account yet
    for n, staff_id in enumerate(in_slack):
        fake_slack.add_user(f"{staff_id.upper()}@BANK.example", f"U0SYNC{n:04d}")
    before = slack_guide.run("rmbot staff status --platform slack")
    assert before.returncode == 0 and f"未关联 {len(rms)}" in before.stdout, before.stderr

    done = slack_guide.run("rmbot staff link slack U0RM00001 RM001")
    assert done.returncode == 0, done.stderr
    synced = slack_guide.run("rmbot staff sync slack")
    assert synced.returncode == 0, synced.stderr
    expected = [sid for sid in in_slack if sid != "RM001"]
    assert f"新关联 {len(expected)} 人" in synced.stdout and "找不到 1" in synced.stdout, synced.stdout
    with Session(engine) as s:
        links = {r.staff_id: r.external_id for r in s.execute(
            select(ChatIdentity).where(ChatIdentity.platform == "slack")).scalars()}
        audited = [a.target for a in s.execute(select(AuditLog).where(AuditLog.action == "staff_link")).scalars()]
    assert links["RM001"] == "U0RM00001"  # linked by hand: not looked up again
    assert all(links[sid] == f"U0SYNC{in_slack.index(sid):04d}" for sid in expected)
    assert len(audited) == 1 + len(expected)  # every link audited, the sync's too
    lookups = len(fake_slack.calls("users.lookupByEmail", ok_only=False))
    assert lookups == len(with_email) - ("RM001" in with_email)

    rerun = slack_guide.run("rmbot staff sync slack")  # only the one still missing is asked again
    assert "新关联 0 人" in rerun.stdout
    assert len(fake_slack.calls("users.lookupByEmail", ok_only=False)) == lookups + 1
    after = slack_guide.run("rmbot staff status --platform slack")
    unlinked = len(rms) - 1 - len(expected)
    assert f"未关联 {unlinked}" in after.stdout, after.stdout


def test_sync_without_the_scope_says_so(slack_guide: Guide, fake_slack: FakeSlackAPI) -> None:
    engine = make_engine(slack_guide.env["DATABASE_URL"])
    with Session(engine) as s:
        staff = s.get(Staff, "RM001")
        assert staff is not None
        staff.email = "rm001@bank.example"
        s.commit()
    fake_slack.drop_scope("users:read.email")
    refused = slack_guide.run("rmbot staff sync slack")
    assert refused.returncode == 2 and "users:read.email" in refused.stderr and "Traceback" not in refused.stderr


def test_destination_rows(slack_guide: Guide) -> None:
    assert slack_guide.run("rmbot push dest set SB01 slack C0SB01PUSH").returncode == 0
    with Session(make_engine(slack_guide.env["DATABASE_URL"])) as s:
        assert s.get(PushDestination, ("SB01", "slack")) is not None
