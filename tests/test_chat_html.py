"""Telegram HTML helpers, checked against the emulator's port of tdlib's parser."""

from __future__ import annotations

import random
import re

import pytest
from kit.botapi import parse_html, utf16_len

from responder.present.html import (
    attr,
    esc,
    link,
    pack_callback,
    strip_tags,
    truncate_html,
    truncate_text,
    unpack_callback,
    visible_len,
)


def telegram_view(html: str) -> str:
    """What Telegram would show (raises like Telegram on invalid HTML)."""
    return parse_html(html)[0]


def test_escaped_title_arrives_intact() -> None:
    title = 'A&B <b>爆炸</b> "3人" R&D <'
    html = f"<b>{esc(title)}</b>"
    assert telegram_view(html) == title
    assert strip_tags(html) == title
    assert visible_len(html) == utf16_len(title)


def test_link_escapes_url_and_label() -> None:
    html = link('https://x.cn/a?b=1&c="2"', "<报道>")
    text, entities = parse_html(html)
    assert text == "<报道>"
    assert entities == [{"type": "text_link", "offset": 0, "length": 4, "url": 'https://x.cn/a?b=1&c="2"'}]
    assert attr("a\"<>&'") == "a&quot;&lt;&gt;&amp;&#x27;"


def test_short_text_is_left_alone() -> None:
    html = "<b>标题</b> &amp; 正文"
    assert truncate_html(html) == html


@pytest.mark.parametrize(
    "html",
    [
        "事" * 6000,
        "<b>" + "事故 &amp; 处置 " * 700 + "</b>",
        "<blockquote><i>" + "&lt;x&gt;" * 5000 + "</i></blockquote>",
        '<a href="https://x.cn/?a=1&amp;b=2">' + "链接" * 3000 + "</a> tail",
        "😀" * 3000,
        "a" * 4095 + "😀😀",
        "<b>" + "x" * 4094 + "</b><i>yyy</i>",
        "&#128512;" * 2100,
    ],
)
def test_truncation_is_accepted_by_telegram_and_fills_the_limit(html: str) -> None:
    cut = truncate_html(html)
    text = telegram_view(cut)  # parses: no tag or entity was split, every tag closed
    assert utf16_len(text) <= 4096
    assert utf16_len(text) >= 4094  # only an astral character at the edge is left out
    assert text.endswith("…")
    assert telegram_view(html).startswith(text[:-1])


def test_truncation_keeps_tags_balanced_and_drops_empty_ones() -> None:
    cut = truncate_html("<b>" + "x" * 10 + "</b><i>later</i>", limit=8)
    assert cut == "<b>xxxxxxx…</b>"
    cut = truncate_html("x" * 7 + "<b><i>yyyy</i></b>", limit=8)
    assert cut == "xxxxxxx…"


def test_caption_limit_and_tiny_limits() -> None:
    assert visible_len(truncate_html("图" * 2000, limit=1024)) == 1024
    with pytest.raises(ValueError, match="shorter than the ellipsis"):
        truncate_html("abc", limit=0)


def test_callback_round_trip_and_limit() -> None:
    data = pack_callback("done", 123456, "statement", "weibo")
    assert data == "done:123456:statement:weibo"
    assert unpack_callback(data) == ("done", 123456, "statement", "weibo")
    assert unpack_callback(pack_callback("ack", 7)) == ("ack", 7, "", "")
    assert unpack_callback(pack_callback("done", 7, channel="portal")) == ("done", 7, "", "portal")
    # 64 bytes of UTF-8, not 64 characters.
    with pytest.raises(ValueError, match="bytes"):
        pack_callback("done", 1, "发布权威信息" * 4)
    longest = pack_callback("d", 1, "s" * 60)
    assert len(longest.encode()) == 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", 1), "action must not be empty"),
        (("ack", -1), "non-negative integer"),
        (("ack", True), "non-negative integer"),
        (("ack", 1, "a:b"), "must not contain ':'"),
    ],
)
def test_pack_callback_rejects_bad_fields(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pack_callback(*args)


@pytest.mark.parametrize("data", ["", "ack", "ack:x", "ack:1:2:3:4", ":1", "a" * 65])
def test_unpack_callback_rejects_malformed(data: str) -> None:
    with pytest.raises(ValueError):
        unpack_callback(data)


def test_truncate_text_counts_utf16_units() -> None:
    assert truncate_text("abc", limit=3) == "abc"
    assert truncate_text("abcd", limit=3) == "ab…"
    cut = truncate_text("<b>" * 3000)
    assert utf16_len(cut) == 4096 and cut.endswith("…")
    assert truncate_text("😀" * 10, limit=6) == "😀😀…"


# --- the bulk helpers against a character-by-character reading --------------------------------

_REF_TOKEN = re.compile(
    r"(?P<tag><(?P<close>/?)(?P<name>[a-zA-Z][a-zA-Z0-9-]*)(?:\s[^>]*)?>)"
    r"|(?P<entity>&(?:(?P<named>lt|gt|amp|quot)|#(?P<dec>[0-9]{1,7})|#x(?P<hex>[0-9a-fA-F]{1,6}));?)"
    r"|(?P<char>.)",
    re.DOTALL,
)


def _ref_visible(m: re.Match[str]) -> str:
    if not m.group("entity"):
        return m.group(0)
    if m.group("named"):
        return {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}[m.group("named")]
    code = int(m.group("dec")) if m.group("dec") else int(m.group("hex"), 16)
    return m.group(0) if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF else chr(code)


def _ref_units(text: str) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def _ref_truncate(html: str, limit: int) -> str:
    """The character-by-character truncation the bulk one must equal."""
    if sum(_ref_units(_ref_visible(m)) for m in _REF_TOKEN.finditer(html) if not m.group("tag")) <= limit:
        return html
    budget, out, open_tags, used = limit - 1, [], [], 0
    for m in _REF_TOKEN.finditer(html):
        if m.group("tag"):
            opening = not m.group("close")
            if opening:
                open_tags.append(m.group("name").lower())
            elif open_tags and open_tags[-1] == m.group("name").lower():
                open_tags.pop()
            out.append((m.group(0), opening))
            continue
        width = _ref_units(_ref_visible(m))
        if used + width > budget:
            break
        used += width
        out.append((m.group(0), False))
    while out and out[-1][1]:
        out.pop()
        open_tags.pop()
    return "".join(t for t, _ in out) + "…" + "".join(f"</{n}>" for n in reversed(open_tags))


def _samples() -> list[str]:
    rng = random.Random(13)
    parts = ["安徽", "x", "😀", "🚒🚑", "&amp;", "&lt;", "&#128512;", "&#x1F692;", "&#0;", "& ", "&foo;",
             "<b>", "</b>", "<i>", "</i>", '<a href="https://e.example/?a=1&amp;b=2">', "</a>", "\n", "A&B"]  # fmt: skip
    return ["".join(rng.choice(parts) for _ in range(rng.randint(0, 60))) for _ in range(400)]


def test_lengths_and_cuts_equal_a_character_by_character_reading() -> None:
    for html in _samples():
        visible = [_ref_visible(m) for m in _REF_TOKEN.finditer(html) if not m.group("tag")]
        assert visible_len(html) == sum(_ref_units(v) for v in visible), html
        assert strip_tags(html) == "".join(visible), html
        for limit in (1, 2, 5, 17, 40):
            assert truncate_html(html, limit) == _ref_truncate(html, limit), (html, limit)
        plain = strip_tags(html)
        for limit in (1, 2, 3, 9, 30):
            cut = truncate_text(plain, limit)
            assert _ref_units(cut) <= limit or cut == plain
            if cut != plain:
                assert plain.startswith(cut[:-1]) and _ref_units(plain[: len(cut)]) > limit - 1
