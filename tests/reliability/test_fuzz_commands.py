"""Generated command texts: no exception escapes, every reply is a clear message.

The suite runs RMBOT_FUZZ_EXAMPLES examples (default 400); `make soak` runs 10,000.
"""

import os

from hypothesis import HealthCheck, given, settings, strategies as st

from bot.core.registry import REGISTRY
from bot.testing import Harness

EXAMPLES = int(os.environ.get("RMBOT_FUZZ_EXAMPLES", "400"))
WORDS = sorted({w for spec in REGISTRY.commands() for w in spec.words}) or ["tier"]
STAFF = ["RM001", "RM002", "BM01", "BM02", "REG01", "NOBODY"]
ARGS = st.one_of(
    st.sampled_from(["C0000001", "C0000014", "C9999999", "c0000003", "Ｃ０００００１", "0", "-5", "1e9", "工业", "建筑业",
                     "250", "3000", "-", "30天", "all", "本月", "2026-11", "日期=2026-12-05", "!", "<@U1>", "@rmbot"]),
    st.text(max_size=40),
    st.integers(min_value=-10**12, max_value=10**12).map(str),
)


def texts() -> st.SearchStrategy[str]:
    command = st.tuples(
        st.sampled_from(["", "/", "／", "@rmbot ", "<@U0BOT> "]),
        st.sampled_from(WORDS + ["", "unknown", "ＴＩＥＲ"]),
        st.lists(ARGS, max_size=5),
        st.sampled_from([" ", "　", "  "]),
    ).map(lambda t: t[0] + t[1] + t[3] + t[3].join(t[2]))
    return st.one_of(command, st.text(max_size=200), st.text(min_size=1900, max_size=2100))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow, HealthCheck.data_too_large])
@given(staff=st.sampled_from(STAFF), text=texts(), channel=st.sampled_from(["dm", "group"]))
def test_any_text_gets_a_clear_reply(rmbot: Harness, staff: str, text: str, channel: str) -> None:
    answer = rmbot.ask(staff, text, channel=channel)  # type: ignore[arg-type]
    reply = answer.reply
    assert reply.kind in ("info", "warning", "error")
    assert reply.title and (reply.summary or reply.fields or reply.sections or reply.tables)
    assert "Traceback" not in answer.text and "处理时出错" not in answer.text, answer.text
    if reply.kind == "error":
        assert reply.summary and len(reply.summary) < 400
