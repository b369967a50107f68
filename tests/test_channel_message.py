"""What goes to a send-only channel: an outbox card read as title, lines and link, and the
shortening that keeps deadlines and the link whatever it has to drop (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from responder.channels.message import (
    ChannelMessage,
    Line,
    Segment,
    cut_middle,
    from_telegram_html,
    markdown_line,
    shorten,
)
from responder.engine.views import incident_view
from responder.models import Incident, Step
from responder.present.cards import card
from responder.present.views import ReportLine

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
LINK = "https://yq.example.gov.cn/console/incidents/7"


def real_card() -> str:
    inc = Incident(id=7, kind="event", title="某县化工厂发生闪爆 <致4人死亡>", grade="较大", deaths=4, heat=3,
                   first_published=NOW - timedelta(minutes=40), detected_at=NOW - timedelta(minutes=30))  # fmt: skip
    steps = [
        Step(id=1, incident_id=7, playbook="serious-incident", key="publish_info", title="公开事故情况",
             started_at=inc.first_published, due_at=NOW + timedelta(minutes=20)),
        Step(id=2, incident_id=7, playbook="serious-incident", key="flash", title="发布事故快讯",
             started_at=inc.first_published, due_at=NOW + timedelta(hours=8)),
    ]  # fmt: skip
    reports = [ReportLine("某日报", "化工厂闪爆 4人遇难", "https://news.example.cn/a?id=1&x=2")]
    return card(incident_view(inc, steps, reports, {}), SH, NOW)


def test_an_outbox_card_becomes_title_lines_and_link() -> None:
    msg = from_telegram_html(real_card(), LINK)
    assert msg.title.startswith("🚨 【较大】") and "#7" in msg.title
    texts = [line.text for line in msg.lines]
    assert "某县化工厂发生闪爆 <致4人死亡>" in texts  # tags gone, entities decoded
    deadlines = [line for line in msg.lines if "截止" in line.text]
    assert len(deadlines) == 2 and all(line.keep for line in deadlines)
    [report] = [line for line in msg.lines if "某日报" in line.text]
    assert not report.keep
    assert [s.href for s in report.segments if s.href] == ["https://news.example.cn/a?id=1&x=2"]
    assert msg.link == LINK


def test_markdown_keeps_links_and_defuses_outside_markup() -> None:
    line = Line(
        (Segment("[不是链接](http://evil.example) <@all> "), Segment("报道", "https://a.example/b c(1)"))
    )
    assert (
        markdown_line(line)
        == "［不是链接］(http://evil.example) ＜@all＞ [报道](https://a.example/b%20c%281%29)"
    )


def lines_of(n: int, keep_every: int = 0) -> tuple[Line, ...]:
    return tuple(
        Line.plain(f"第{i:03d}行：" + "字" * 20, keep=bool(keep_every) and i % keep_every == 0)
        for i in range(n)
    )


def test_cut_middle_takes_from_the_middle_and_says_how_much() -> None:
    msg = ChannelMessage("标题", lines_of(10, keep_every=4), LINK)
    flexible = msg.flexible_chars()
    cut = cut_middle(msg, 100)
    texts = [line.text for line in cut.lines]
    assert texts[0] == msg.lines[0].text  # kept (a deadline)
    assert texts[1] == msg.lines[1].text  # the beginning of the flexible text
    assert texts[-1] == msg.lines[-1].text  # its end
    assert sum(1 for t in texts if "中间略去" in t) == 1
    assert f"中间略去 {flexible - 100} 字" in "".join(texts)
    for kept in (msg.lines[4], msg.lines[8]):
        assert kept in cut.lines  # deadlines in the middle stay, whole
    shown = sum(len(line.text) for line in cut.lines if not line.keep and "中间略去" not in line.text)
    assert shown == 100 + 2  # the budget, plus the ellipses of the two cut lines


def test_shorten_keeps_as_much_as_fits() -> None:
    msg = ChannelMessage("标题", lines_of(40, keep_every=10), LINK)

    def size(m: ChannelMessage) -> int:
        return len(("\n".join([m.title, *(line.text for line in m.lines), m.link or ""])).encode())

    limit = 700
    short = shorten(msg, lambda m: size(m) <= limit)
    assert short is not None and size(short) <= limit
    assert all(line in short.lines for line in msg.lines if line.keep)
    # The largest budget that fits, found by trying every one: the binary search found it too.
    best = max(b for b in range(msg.flexible_chars() + 1) if size(cut_middle(msg, b)) <= limit)
    assert short == cut_middle(msg, best)


def test_a_huge_title_loses_its_middle_when_nothing_else_can_go() -> None:
    msg = ChannelMessage("开头" + "很长的标题" * 500 + "结尾", (Line.plain("• 截止 16:30", keep=True),), LINK)
    short = shorten(msg, lambda m: len(m.title) <= 100)
    assert short is not None and short.title.startswith("开头") and short.title.endswith("结尾")
    assert len(short.title) <= 100 and short.lines == msg.lines


def test_nothing_is_sent_when_the_kept_parts_cannot_fit() -> None:
    msg = ChannelMessage("标题", lines_of(50, keep_every=1), LINK)
    assert shorten(msg, lambda m: sum(len(line.text) for line in m.lines) < 100) is None


@pytest.mark.parametrize("budget", [0, 1, 7, 55, 299, 500])
def test_cut_middle_never_loses_a_kept_line_or_grows(budget: int) -> None:
    msg = ChannelMessage("标题", lines_of(12, keep_every=3), LINK)
    cut = cut_middle(msg, budget)
    assert [line for line in cut.lines if line.keep] == [line for line in msg.lines if line.keep]
    assert cut.flexible_chars() <= msg.flexible_chars() + 60  # the marker line at most
