"""Characters that must never reach what staff read or what matching reads (text.clean_text)."""

from __future__ import annotations

import pytest

from responder.text import clean_text, normalize, report_text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("淮南\x00爆炸", "淮南爆炸"),  # NUL: PostgreSQL refuses it in text
        ("合肥\x07\x1b[31m坍塌", "合肥[31m坍塌"),  # bell, escape
        ("第一行\n第二行\t制表\r", "第一行\n第二行\t制表\r"),  # line breaks and tabs stay
        ("爆\u200b炸", "爆炸"),  # zero-width space
        ("爆\u200c\u200d\u2060\ufeff炸", "爆炸"),  # non-joiner, joiner, word joiner, BOM
        ("死亡\u202e人21", "死亡人21"),  # right-to-left override
        ("\u2066隔离\u2069与\u202a嵌入\u202c", "隔离与嵌入"),  # isolates, embeddings
        ("\u200e方向\u200f标记\u061c", "方向标记"),  # LRM, RLM, Arabic letter mark
        ("软\xad连字符", "软连字符"),
        ("don\x92t \x93q\x94 \x80", "don’t “q” €"),  # cp1252 bytes stored as C1 code points
        ("未定义\x81\x8d\x8f\x90\x9d", "未定义"),  # C1 codes cp1252 leaves undefined
        ("普通文本 ABC １２３", "普通文本 ABC １２３"),  # full-width stays (NFKC is normalize's job)
        ("", ""),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_hidden_characters_do_not_split_scheme_words() -> None:
    assert normalize("淮南\u200b爆\u2060炸") == "淮南爆炸"
    assert "坍塌" in report_text("合肥工地坍\u200d塌", "<p>现场&#8203;坍&#x200B;塌</p>")
