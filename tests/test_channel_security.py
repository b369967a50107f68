"""Each platform's security settings as its server applies them: DingTalk's and Feishu's
signatures (verified by the emulators the platforms' way), their one-hour clock window,
custom keywords and IP allow-lists, DingTalk's 10-minute throttle, Feishu's 5 a second."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from kit.channelkit import LINK, PLATFORMS, Rig, alert, new_token
from kit.dingtalk import DingTalkEmulator
from kit.feishu import FeishuEmulator
from kit.robotbase import FixedClock

from responder.channels import ChannelMessage, Delivered, Line, Permanent, RetryLater
from responder.channels import dingtalk as dingtalk_client
from responder.channels import feishu as feishu_client
from responder.channels.pacing import Pacer


def make_rig(name: str, *, secret: str | None = None, **robot: object) -> Iterator[Rig]:
    clock = FixedClock()
    platform = PLATFORMS[name]
    emulator = platform.emulator(clock)
    emulator.start()
    token = new_token()
    emulator.add_robot(token, secret, **robot)  # type: ignore[arg-type]
    try:
        yield Rig(platform, emulator, token, clock, secret)
    finally:
        emulator.close()


SECRET = "SEC4f1d0c9a7b3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5"


@pytest.fixture
def ding() -> Iterator[Rig]:
    yield from make_rig("dingtalk", secret=SECRET)


@pytest.fixture
def lark() -> Iterator[Rig]:
    yield from make_rig("feishu", secret="nIMtb7r3N9pkXyXdtAbx6e")


# --------------------------------------------------------------------------- DingTalk


async def test_dingtalk_signature_is_url_encoded(ding: Rig) -> None:
    # A moment whose signature holds "+" and "/": sent raw, "+" would arrive as a space.
    while not {"+", "/"} <= set(dingtalk_client.sign(int(ding.clock() * 1000), SECRET)):
        ding.clock.advance(0.001)
    c = ding.client()
    assert await c.send(alert()) == Delivered()
    request = ding.emulator.requests[-1]
    assert request.query["timestamp"] == str(int(ding.clock() * 1000))
    await c.aclose()
    # The emulator checks as DingTalk does: the same signature, not URL-encoded, fails.
    raw = dingtalk_client.sign(int(ding.clock() * 1000), SECRET)
    url = f"{ding.emulator.webhook(ding.token)}&timestamp={int(ding.clock() * 1000)}&sign={raw}"
    answer = httpx.post(url, json={"msgtype": "text", "text": {"content": "x"}}).json()
    assert answer == {"errcode": 310000, "errmsg": "sign not match"}


async def test_dingtalk_wrong_secret_is_refused_for_good(ding: Rig) -> None:
    c = ding.client(secret="SEC" + "0" * 64)
    outcome = await c.send(alert())
    assert isinstance(outcome, Permanent) and outcome.robot_level
    assert "310000" in outcome.reason and "签名" in outcome.reason and "SIGNING_SECRET" in outcome.reason
    assert SECRET not in outcome.reason and ding.texts() == []
    await c.aclose()


async def test_dingtalk_signing_robot_without_secret_in_the_roster(ding: Rig) -> None:
    ding.secret = None  # the roster forgot secret_env
    c = ding.client()
    outcome = await c.send(alert())
    assert isinstance(outcome, Permanent) and outcome.robot_level and "sign not match" in outcome.reason
    await c.aclose()


@pytest.mark.parametrize(
    ("skew", "ok"), [(-59 * 60, True), (59 * 60, True), (-61 * 60, False), (61 * 60, False)]
)
async def test_dingtalk_timestamp_must_be_within_an_hour(skew: int, ok: bool) -> None:
    for rig in make_rig("dingtalk", secret=SECRET):
        client_clock = FixedClock(rig.clock.now + skew)
        rig.clock = client_clock
        c = rig.client()
        outcome = await c.send(alert())
        if ok:
            assert outcome == Delivered()
        else:
            assert isinstance(outcome, Permanent) and "invalid timestamp" in outcome.reason
            assert "时钟" in outcome.reason
        await c.aclose()


async def test_dingtalk_throttles_ten_minutes_after_the_21st(ding: Rig) -> None:
    c = ding.client(pacer=Pacer([(10_000, 60.0)], ding.clock))  # does not pace: meets the throttle
    for i in range(20):
        assert await c.send(alert(title=f"事件 #{i}")) == Delivered()
        ding.clock.advance(1)
    outcome = await c.send(alert(title="第21条"))
    assert isinstance(outcome, RetryLater) and outcome.after == timedelta(minutes=10)
    ding.clock.advance(120)  # the minute is long over, the throttle is not
    raw = ding.client(pacer=Pacer([(10_000, 60.0)], ding.clock))
    throttled = await raw.send(alert(title="两分钟后"))
    assert isinstance(throttled, RetryLater) and "130101" in throttled.reason
    ding.clock.advance(480)  # ten minutes after the 21st
    fresh = ding.client(pacer=Pacer([(10_000, 60.0)], ding.clock))
    assert await fresh.send(alert(title="十分钟后")) == Delivered()
    for client in (c, raw, fresh):
        await client.aclose()


async def test_dingtalk_markdown_has_title_and_paragraphs(ding: Rig) -> None:
    c = ding.client()
    assert await c.send(alert()) == Delivered()
    [md] = ding.emulator.markdowns(ding.token)  # type: ignore[attr-defined]
    assert md["title"] == "【较大】事件 #42 某化工厂闪爆"
    paragraphs = md["text"].split("\n\n")
    assert paragraphs[0] == "#### 【较大】事件 #42 某化工厂闪爆"
    assert paragraphs[-1] == f"[在控制台处理]({LINK})"
    await c.aclose()


# --------------------------------------------------------------------------- Feishu


async def test_feishu_signature_is_in_the_body_and_keyed_by_time_and_secret(lark: Rig) -> None:
    c = lark.client()
    assert await c.send(alert()) == Delivered()
    body = json.loads(lark.emulator.requests[-1].body)
    assert body["timestamp"] == str(int(lark.clock()))  # seconds, not milliseconds
    assert body["sign"] == feishu_client.sign(int(lark.clock()), "nIMtb7r3N9pkXyXdtAbx6e")
    await c.aclose()
    # DingTalk's way (the secret as key, over "timestamp\nsecret") is refused by Feishu.
    ts = str(int(lark.clock()))
    wrong = dingtalk_client.sign(int(ts), "nIMtb7r3N9pkXyXdtAbx6e")
    answer = httpx.post(lark.emulator.webhook(lark.token), json={"timestamp": ts, "sign": wrong,  # type: ignore[attr-defined]
                        "msg_type": "text", "content": {"text": "x"}}).json()  # fmt: skip
    assert answer["code"] == 19021


@pytest.mark.parametrize(("skew", "ok"), [(3500, True), (-3500, True), (3700, False), (-3700, False)])
async def test_feishu_timestamp_must_be_within_an_hour(skew: int, ok: bool) -> None:
    for rig in make_rig("feishu", secret="nIMtb7r3N9pkXyXdtAbx6e"):
        rig.clock = FixedClock(rig.clock.now + skew)
        c = rig.client()
        outcome = await c.send(alert())
        assert (
            (outcome == Delivered()) if ok else (isinstance(outcome, Permanent) and "19021" in outcome.reason)
        )
        await c.aclose()


async def test_feishu_five_a_second(lark: Rig) -> None:
    c = lark.client()
    outcomes = [await c.send(alert(title=f"事件 #{i}")) for i in range(7)]  # one instant
    assert [type(o) for o in outcomes] == [Delivered] * 5 + [RetryLater] * 2
    assert outcomes[5].after == timedelta(seconds=2)  # type: ignore[union-attr]  # 1.05 s, rounded up
    assert len(lark.emulator.requests) == 5
    lark.clock.advance(1.1)
    assert await c.send(alert(title="一秒后")) == Delivered()
    await c.aclose()


async def test_feishu_post_carries_links_as_link_elements(lark: Rig) -> None:
    c = lark.client()
    assert await c.send(alert()) == Delivered()
    [post] = lark.emulator.posts(lark.token)  # type: ignore[attr-defined]
    assert post["title"] == "【较大】事件 #42 某化工厂闪爆"
    links = [e for p in post["content"] for e in p if e["tag"] == "a"]
    assert {"tag": "a", "text": "某报：化工厂发生闪爆", "href": "https://news.example.cn/a(1).html"} in links
    assert post["content"][-1] == [{"tag": "a", "text": "在控制台处理", "href": LINK}]
    await c.aclose()


# --------------------------------------------------------------------------- both


@pytest.mark.parametrize("name", ["dingtalk", "feishu"])
async def test_keyword_setting_refuses_without_and_passes_with_keyword(name: str) -> None:
    for rig in make_rig(name, keywords=("舆情",)):
        c = rig.client()
        outcome = await c.send(alert())
        assert isinstance(outcome, Permanent) and outcome.robot_level and "keyword" in outcome.reason
        c2 = rig.client(keyword="舆情")
        assert await c2.send(alert()) == Delivered()
        assert rig.texts()[0].lstrip("# ").startswith("【舆情】【较大】事件 #42")
        # A message that already says the keyword is left as it is.
        assert await c2.send(ChannelMessage("舆情快报 #43", (Line.plain("x"),), LINK)) == Delivered()
        assert "【舆情】舆情快报" not in rig.texts()[1]
        await c.aclose()
        await c2.aclose()


@pytest.mark.parametrize("name", ["dingtalk", "feishu"])
async def test_ip_allow_list_without_this_machine_is_refused_for_good(name: str) -> None:
    for rig in make_rig(name, allowed_ips=("10.20.0.0/16",)):
        c = rig.client()
        outcome = await c.send(alert())
        assert isinstance(outcome, Permanent) and outcome.robot_level and "IP" in outcome.reason
        await c.aclose()


def test_emulators_are_the_platforms_they_claim() -> None:
    assert isinstance(PLATFORMS["dingtalk"].emulator(), DingTalkEmulator)
    assert isinstance(PLATFORMS["feishu"].emulator(), FeishuEmulator)
