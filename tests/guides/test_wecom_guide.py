"""docs/wecom.md, step by step against the fake WeCom: app chats created by the app, robots,
the destination check, linking."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlmodel import Session

from bot.store.db import make_engine
from bot.store.models import AuditLog, ChatIdentity, PushDestination, Staff
from tests.fakes.wecom_api import FakeWeCom
from tests.guides.conftest import Guide

GUIDE_KEY = "3f1e2d4c-5b6a-4789-9abc-def012345678"
CREATE = ("rmbot push dest create-appchat SB02 --name 城西支行推送 --owner bm02 --user wangfang "
          "--user liqiang --chatid sb02push")


def destinations(guide: Guide) -> dict[tuple[str, str], str]:
    with Session(make_engine(guide.env["DATABASE_URL"])) as s:
        return {(d.org_id, d.platform): d.target for d in s.execute(select(PushDestination)).scalars()}


def test_create_appchat_records_the_destination_and_check_passes(wecom_guide: Guide, fake_wecom: FakeWeCom) -> None:
    fake_wecom.robot_keys.add(GUIDE_KEY)
    done = wecom_guide.run(CREATE)
    assert done.returncode == 0, done.stderr
    assert fake_wecom.appchats["sb02push"] == {"name": "城西支行推送", "owner": "bm02",
                                                "userlist": ["bm02", "wangfang", "liqiang"]}
    assert destinations(wecom_guide)[("SB02", "wecom_appchat")] == "sb02push"
    assert wecom_guide.run(f"rmbot push dest set SB01 wecom_robot {GUIDE_KEY}").returncode == 0
    check = wecom_guide.run("rmbot push dest check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK   SB02  wecom_appchat" in check.stdout and GUIDE_KEY not in check.stdout  # key shown masked
    assert [c.query.get("chatid") for c in fake_wecom.calls_to("/cgi-bin/appchat/get")] == ["sb02push"]
    assert fake_wecom.calls_to("/cgi-bin/webhook/send") == []  # no test message unless asked
    tested = wecom_guide.run("rmbot push dest check --send-test")
    assert tested.returncode == 0, tested.stderr
    assert len(fake_wecom.delivered("/cgi-bin/webhook/send")) == 1


def test_a_chat_the_app_did_not_create_and_a_pasted_url_fail_the_check(
        wecom_guide: Guide, fake_wecom: FakeWeCom) -> None:
    assert wecom_guide.run("rmbot push dest set SB01 wecom_robot 3f1e2d4c-5b6a-4789-9abc-def012345678").returncode == 0
    engine = make_engine(wecom_guide.env["DATABASE_URL"])
    with Session(engine) as s:  # set by hand to a chat made elsewhere, and a whole webhook URL
        s.merge(PushDestination(org_id="SB02", platform="wecom_appchat", target="chatmadebyaperson"))
        s.merge(PushDestination(org_id="SB03", platform="wecom_robot",
                                target="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"))
        s.commit()
    check = wecom_guide.run("rmbot push dest check")
    assert check.returncode == 1
    assert "FAIL SB02" in check.stderr and "create-appchat" in check.stderr
    assert "FAIL SB03" in check.stderr and "key=" in check.stderr
    assert "Traceback" not in check.stderr


def test_create_appchat_refusals(wecom_guide: Guide, fake_wecom: FakeWeCom) -> None:
    assert wecom_guide.run(CREATE).returncode == 0
    again = wecom_guide.run(CREATE)  # chatid taken
    assert again.returncode == 1 and "86215" in again.stderr and "Traceback" not in again.stderr
    fake_wecom.fail_next("/cgi-bin/appchat/create", 60020)
    blocked = wecom_guide.run(CREATE)
    assert blocked.returncode == 1 and "60020" in blocked.stderr


def test_link_and_status(wecom_guide: Guide) -> None:
    before = wecom_guide.run("rmbot staff status --platform wecom")
    assert before.returncode == 0 and "未关联 unlinked: RM001" in before.stdout
    assert wecom_guide.run("rmbot staff link wecom wangfang RM001").returncode == 0
    after = wecom_guide.run("rmbot staff status --platform wecom")
    assert "未关联 unlinked: RM001 " not in after.stdout
    with make_engine(wecom_guide.env["DATABASE_URL"]).begin() as conn:  # RM001 leaves the bank
        conn.execute(update(Staff).where(Staff.id == "RM001").values(active=False))
    left = wecom_guide.run("rmbot staff status --platform wecom")
    assert "已离职仍关联 linked but inactive: wecom:wangfang → RM001" in left.stdout, left.stdout
    with Session(make_engine(wecom_guide.env["DATABASE_URL"])) as s:
        assert s.get(ChatIdentity, ("wecom", "wangfang")) is not None
        assert [a.target for a in s.execute(select(AuditLog).where(AuditLog.action == "staff_link")).scalars()] \
            == ["wecom:wangfang"]
