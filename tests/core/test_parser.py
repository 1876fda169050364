import pytest

from bot.core.parser import normalize, parse


@pytest.mark.parametrize(
    ("text", "word", "args"),
    [
        ("/tier C123", "tier", ["C123"]),
        ("tier C123", "tier", ["C123"]),
        ("／tier　Ｃ１２３", "tier", ["C123"]),
        ("<@U0123ABC> /tier C123", "tier", ["C123"]),
        ("<@U0123ABC|rmbot> tier C123", "tier", ["C123"]),
        ("@客户经理助手 客户分层 C123", "客户分层", ["C123"]),
        ("@rmbot　/分层　Ｃ１２３", "分层", ["C123"]),
        ("  /size  工业  250   3000 ", "size", ["工业", "250", "3000"]),
        ("/ tier C1", "tier", ["C1"]),
    ],
)
def test_parse_forms(text: str, word: str, args: list[str]) -> None:
    parsed = parse(text)
    assert parsed is not None
    assert (parsed.word, parsed.args) == (word, args)


@pytest.mark.parametrize("text", ["", "   ", "<@U1>", "@rmbot", "/", "\u200b"])
def test_empty_means_no_command(text: str) -> None:
    assert parse(text) is None


def test_normalize_folds_full_width_and_invisibles() -> None:
    assert normalize("Ａ\u200bＢ　ｃ") == "AB c"
