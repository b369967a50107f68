"""Normalisation: what a reader sees, in the form matching reads."""

from __future__ import annotations

import pytest

from responder.text import html_to_text, normalize, report_text


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>淮南&amp;合肥</p>", "淮南&合肥"),
        ("&#x7206;&#28856;", "爆炸"),  # hex and decimal character references
        ("化工厂&nbsp;起火", "化工厂 起火"),
        ('<img alt="爆炸" src="a.jpg">厂区', "厂区"),
        ('<a href="https://news.example.cn/矿难/1.html" title="矿难">详情</a>', "详情"),
        ("<script>var w = '火灾';</script><style>.x{content:'泄漏'}</style>正文", "正文"),
        ("爆<b>炸</b>", "爆炸"),  # inline markup does not split a word
        ("<p>第一段</p><p>第二段</p>", "第一段\n第二段"),
        ("甲<br>乙<br/>丙", "甲\n乙\n丙"),
        ("  多个   空格\t\t与\n\n\n换行  ", "多个 空格 与\n换行"),
        ("", ""),
        ("纯文本没有标签", "纯文本没有标签"),
        ("a < b 且 c > d", "a < b 且 c > d"),
        # summaries cut short inside markup: the unfinished tag is not text
        ('正文<img alt="爆炸', "正文"),
        ("正文<!-- 注释 爆炸", "正文"),
        ("正文</p", "正文"),
        ("<div>未闭合的<script>火灾", "未闭合的"),
    ],
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("死亡１２人", "死亡12人"),  # full-width digits
        ("ＡＢＣ化工", "ABC化工"),
        ("臺灣", "台湾"),
        ("台灣", "台湾"),
        ("礦難", "矿难"),
        ("煤礦透水", "煤矿透水"),
        ("爆炸", "爆炸"),
        ("淮南市化工廠發生爆炸", "淮南市化工厂发生爆炸"),
        ("全角\u3000空格", "全角 空格"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("s", ["淮南市化工廠發生爆炸　死亡１２人", "  plain  text ", "第一行\n\n第二行"])
def test_normalize_is_idempotent(s: str) -> None:
    assert normalize(normalize(s)) == normalize(s)


def test_report_text_joins_title_and_visible_summary() -> None:
    text = report_text("淮北煤礦透水", '<p>井下<img alt="死亡">１２名礦工被困</p>')
    assert text == "淮北煤矿透水\n井下12名矿工被困"
