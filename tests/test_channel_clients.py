"""Each robot client (WeCom, DingTalk, Feishu) against its emulator: every outcome the outbox
needs, the documented size limit, and pacing under a burst (a fixed clock, no sleeping)."""

from __future__ import annotations

from datetime import timedelta

from kit.channelkit import LINK, Rig, alert, new_token, rig_fixture  # noqa: F401

from responder.channels import ChannelMessage, Delivered, Endpoint, Line, Permanent, RetryLater
from responder.channels.pacing import Pacer

DEADLINE_1 = "• 发布权威信息 截止 16:30，剩余 4小时12分"
DEADLINE_2 = "• 举行新闻发布会 截止 次日 11:30，剩余 23小时"


async def test_delivers_title_lines_and_console_link(rig: Rig) -> None:
    c = rig.client()
    assert await c.send(alert()) == Delivered()
    [text] = rig.texts()
    assert "【较大】事件 #42 某化工厂闪爆" in text
    assert DEADLINE_1 in text and DEADLINE_2 in text
    assert LINK in text and "在控制台处理" in text
    await c.aclose()


async def test_unknown_robot_is_refused_for_good_naming_the_variable_not_the_token(rig: Rig) -> None:
    stranger = new_token()
    c = rig.client(token=stranger)
    outcome = await c.send(alert())
    assert isinstance(outcome, Permanent) and outcome.robot_level
    assert str(rig.platform.bad_key_code) in outcome.reason
    assert rig.platform.variable in outcome.reason and stranger not in outcome.reason
    assert rig.texts() == []
    await c.aclose()


async def test_the_platforms_rate_limit_answer_waits_its_documented_time(rig: Rig) -> None:
    c = rig.client()
    rig.emulator.fail("rate_limited")
    outcome = await c.send(alert())
    assert isinstance(outcome, RetryLater)
    assert outcome.after == timedelta(seconds=rig.platform.rate_wait)
    assert str(rig.platform.rate_code) in outcome.reason
    # Until then the robot is left alone: asking again sends nothing.
    tried = len(rig.emulator.requests)
    again = await c.send(alert())
    assert isinstance(again, RetryLater) and again.after == timedelta(seconds=rig.platform.rate_wait)
    assert len(rig.emulator.requests) == tried
    rig.clock.advance(rig.platform.rate_wait)
    assert await c.send(alert()) == Delivered()
    await c.aclose()


async def test_busy_server_is_retried(rig: Rig) -> None:
    c = rig.client()
    rig.emulator.fail("busy")
    outcome = await c.send(alert())
    assert isinstance(outcome, RetryLater)
    wait = rig.platform.busy_wait
    assert outcome.after == (timedelta(seconds=wait) if wait else None)
    rig.clock.advance(wait or 0)
    assert await c.send(alert()) == Delivered()
    assert len(rig.texts()) == 1
    await c.aclose()


async def test_bad_gateway_is_retried_with_back_off(rig: Rig) -> None:
    c = rig.client()
    rig.emulator.fail("server_error")
    outcome = await c.send(alert())
    assert isinstance(outcome, RetryLater) and outcome.after is None and "502" in outcome.reason
    assert await c.send(alert()) == Delivered()
    await c.aclose()


async def test_a_hung_server_is_a_timeout_to_retry(rig: Rig) -> None:
    c = rig.client(timeout=0.3)
    rig.emulator.fail("hang", seconds=30)
    outcome = await c.send(alert())
    assert isinstance(outcome, RetryLater) and outcome.after is None and "超时" in outcome.reason
    await c.aclose()


async def test_an_unreachable_server_is_retried(rig: Rig) -> None:
    endpoint = Endpoint(rig.platform.name, "http://127.0.0.1:9", new_token(), token_env=rig.platform.variable)
    c = rig.platform.client(endpoint, clock=rig.clock, timeout=2.0)
    outcome = await c.send(alert())
    assert isinstance(outcome, RetryLater) and outcome.after is None and "无法连接" in outcome.reason
    await c.aclose()


async def test_a_long_message_loses_its_middle_never_deadlines_or_link(rig: Rig) -> None:
    c = rig.client()
    lines = 1200 if rig.platform.size_limit > 5000 else 120
    msg = alert(extra_lines=lines)
    assert rig.platform.size(c.payload(msg)) > rig.platform.size_limit
    assert await c.send(msg) == Delivered()  # the emulator refuses anything over the limit
    [posted] = rig.emulator.messages(rig.token)
    measured = (
        rig.platform.size(posted) if rig.platform.name == "wecom" else len(rig.emulator.requests[-1].body)
    )
    assert rig.platform.size_limit * 0.95 < measured <= rig.platform.size_limit  # shortened, not gutted
    [text] = rig.texts()
    assert DEADLINE_1 in text and DEADLINE_2 in text and LINK in text
    assert "热度：3 个来源" in text and f"某网站转载第{lines - 1}篇" in text  # beginning and end stay
    assert "中间略去" in text
    await c.aclose()


async def test_too_large_even_shortened_is_refused_unsent(rig: Rig) -> None:
    c = rig.client()
    deadlines = tuple(
        Line.plain(f"• 事项{i} 截止 16:{i % 60:02d}，剩余 4小时", keep=True) for i in range(1500)
    )
    outcome = await c.send(ChannelMessage("标题", deadlines, LINK))
    assert isinstance(outcome, Permanent) and not outcome.robot_level
    assert rig.emulator.requests == []
    await c.aclose()


async def test_a_burst_is_paced_under_the_documented_rate(rig: Rig) -> None:
    c = rig.client()
    limit = rig.platform.per_minute
    step = 0.25  # four a second: under Feishu's five a second too
    outcomes = []
    for i in range(limit + 5):
        outcomes.append(await c.send(alert(title=f"事件 #{i}")))
        rig.clock.advance(step)
    delivered = [o for o in outcomes if isinstance(o, Delivered)]
    waiting = [o for o in outcomes if isinstance(o, RetryLater)]
    assert len(delivered) == limit and len(waiting) == 5
    assert all(isinstance(o, Delivered) for o in outcomes[:limit])  # in order: the first ones go
    elapsed = (limit + 5) * step
    # Each waits until the first send leaves the window: a minute and a second after it.
    assert all(
        o.after is not None and 0 < o.after.total_seconds() <= 61 - (elapsed - 5 * step) + 1 for o in waiting
    )
    assert len(rig.emulator.requests) == limit  # the five were never sent, so nothing was refused
    rig.clock.advance(61 - elapsed)
    assert await c.send(alert(title="之后")) == Delivered()
    await c.aclose()


async def test_the_emulator_enforces_the_documented_rate(rig: Rig) -> None:
    c = rig.client(pacer=Pacer([(10_000, 60.0)], rig.clock))  # a client that does not pace
    limit = rig.platform.per_minute
    outcomes = []
    for i in range(limit + 1):
        outcomes.append(await c.send(alert(title=f"事件 #{i}")))
        rig.clock.advance(0.25)
    assert all(isinstance(o, Delivered) for o in outcomes[:limit])
    last = outcomes[limit]
    assert isinstance(last, RetryLater) and str(rig.platform.rate_code) in last.reason
    await c.aclose()
