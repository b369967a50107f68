"""The zh catalogue writes Chinese punctuation full-width, and both catalogues hold the same keys.

Official Chinese text uses ：，（）；！？ . An ASCII `: , ( ) ; ! ?` beside Chinese text is a
mistake; ASCII stays inside addresses (http://…, sqlite:///…), times and numbers (16:02,
1,200), `code`, {placeholders}, HTML tags and their attributes, command syntax ([:渠道]),
English words (http(s)) and between ASCII-valued placeholders ({host}:{port}). A bracket
pair is converted whole. The same rule converts the catalogue (a script kept outside the
repository, re-run after branches merge).
"""

from __future__ import annotations

import re

import pytest

from responder.i18n import Catalogue

_ASCII = ":,();!?"
# Placeholders whose values are ASCII (addresses, paths, ports): punctuation beside them is syntax.
_ASCII_NAMES = {"url", "link", "path", "host", "port", "address", "example", "anchor", "pattern", "start"}
_PROTECTED = re.compile(r"\{[^{}]*\}|<[^<>]*>|`[^`]*`|[A-Za-z][A-Za-z0-9+.-]*://[^\s，。；、（）“”<>]*")


def _chinese(ch: str) -> bool:
    o = ord(ch)
    return (
        0x3400 <= o <= 0x4DBF
        or 0x4E00 <= o <= 0x9FFF
        or 0x3000 <= o <= 0x303F
        or 0xFF00 <= o <= 0xFFEF
        or ch in "“”‘’…—"
    )


def _beside(text: str, i: int, step: int, spans: list[re.Match[str]]) -> str | None:
    """'zh', 'ascii' or None (the edge) beside position i; spaces and ASCII punctuation skipped."""
    j = i + step
    while 0 <= j < len(text):
        span = next((m for m in spans if m.start() <= j < m.end()), None)
        if span is not None:
            token = span.group(0)
            if token.startswith("{"):
                name = re.split(r"[:!.\[]", token[1:-1], maxsplit=1)[0]
                return "ascii" if name in _ASCII_NAMES else "zh"  # a value in a Chinese sentence
            return "ascii"
        if text[j].isspace() or text[j] in _ASCII:
            j += step
            continue
        return "zh" if _chinese(text[j]) else "ascii"
    return None


def ascii_punctuation_beside_chinese(text: str) -> list[str]:
    """Each ASCII punctuation mark of `text` used as Chinese punctuation, with what surrounds it."""
    spans = list(_PROTECTED.finditer(text))
    inside = {j for m in spans for j in range(m.start(), m.end())}
    pairs: dict[int, int] = {}
    opened: list[int] = []
    for i, ch in enumerate(text):
        if i in inside:
            continue
        if ch in "(（":
            opened.append(i)
        elif ch in ")）" and opened:
            j = opened.pop()
            pairs[i], pairs[j] = j, i
    found = []
    for i, ch in enumerate(text):
        if ch not in _ASCII or i in inside:
            continue
        before, after = text[i - 1 : i], text[i + 1 : i + 2]
        if (before.isdigit() and after.isdigit()) or (ch == ":" and before == "["):
            continue
        partner = pairs.get(i)
        if partner is not None:
            opening = min(i, partner)
            word = text[opening + 1 : max(i, partner)]
            if (
                opening
                and text[opening - 1].isascii()
                and text[opening - 1].isalnum()
                and word.isascii()
                and word.isalnum()
            ):
                continue  # http(s)
            if text[partner] in "（）":
                found.append(text[max(0, i - 8) : i + 8])  # half a pair converted
                continue
        if "zh" in (_beside(text, i, -1, spans), _beside(text, i, +1, spans)) or (
            partner is not None
            and "zh" in (_beside(text, partner, -1, spans), _beside(text, partner, +1, spans))
        ):
            found.append(text[max(0, i - 8) : i + 8])
    return found


@pytest.mark.parametrize(
    "text",
    [
        "状态:待确认",
        "抱歉,您的角色(值班员)不能执行",
        "截止 {due},剩余 {left}",
        "{role}:{names}",
        "订阅源超过上限(polling.max_body_bytes),已中止",
        "请核对!",
        "是否继续?",
        "按时率 {rate}(上周 {prev})",
        "出席（{names})",
    ],
)
def test_ascii_punctuation_beside_chinese_is_found(text: str) -> None:
    assert ascii_punctuation_beside_chinese(text), text


@pytest.mark.parametrize(
    "text",
    [
        "状态：已确认（法规处长 16:02）",
        "请先运行 `python main.py migrate`。",
        "格式如 postgresql+psycopg://用户:密码@主机:5432/库名，或 sqlite:///路径。",
        "用法：/done 编号 [事项[:渠道]] [链接]",
        "直接经济损失 1,200万元",
        "无法监听 {host}:{port}（{error}）",
        "{seconds:.1f} 秒",
        '<a href="tg://user?id={id}">{who}</a>：请回复',
        "请使用 http(s) 地址",
        "RESPONDER_LANG={value} 不是本程序支持的语言（not a supported language）；可用的值：{accepted}",
        "e.g. (a, b)",
    ],
)
def test_ascii_where_it_belongs_passes(text: str) -> None:
    assert ascii_punctuation_beside_chinese(text) == [], text


def test_the_zh_catalogue_uses_full_width_punctuation() -> None:
    zh = Catalogue("zh").messages
    wrong = {key: found for key, text in zh.items() if (found := ascii_punctuation_beside_chinese(text))}
    assert wrong == {}, "ASCII punctuation beside Chinese text (use ：，（）；！？): " + repr(wrong)


def test_every_key_is_in_both_languages() -> None:
    zh, en = Catalogue("zh").messages.keys(), Catalogue("en").messages.keys()
    assert sorted(zh - en) == [], "keys in zh.yaml only"
    assert sorted(en - zh) == [], "keys in en.yaml only"
