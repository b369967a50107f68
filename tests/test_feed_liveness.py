"""Feeds that answer but bring nothing new, and RSSHub routes that broke: the admins hear of it once.

Driven through a real feed server and the engine, with the clock moved by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.enginekit import Service, rss, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from responder.models import FeedState, Outbox

NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
ADMIN = -300


def health(rows: list[Outbox], kind: str) -> list[Outbox]:
    return [r for r in rows if r.dedup_key.startswith("feed:") and f":{kind}:" in r.dedup_key]


def walk(svc: Service, start: datetime, days: float, every: timedelta) -> datetime:
    """Poll every `every` for `days` days, whatever the schedule says; returns the last time."""
    t = start
    while t < start + timedelta(days=days):
        t += every
        with Session(svc.engine) as s:
            for st in s.exec(select(FeedState)).all():
                st.next_poll_at = t
                s.add(st)
            s.commit()
        svc.step(t)
    return t


def test_a_feed_that_answers_but_brings_nothing_new_alerts_once_and_once_on_recovery(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    old = [("https://n.example/1", "本地新闻", "晴。", NOW - timedelta(hours=1))]
    feed_server.route("/n.xml", rss(old), etag='"same"')
    cfg = write_config(tmp_path, f"  - name: 沉默的源\n    url: {feed_server.url('/n.xml')}\n")
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=10))
    svc.step(NOW)
    t = walk(svc, NOW, 2.9, timedelta(hours=6))
    assert health(svc.outbox(), "stale") == [], "within three days of its newest item: fine"
    t = walk(svc, t, 2, timedelta(hours=6))  # well past three days, polled eight more times
    [alert] = health(svc.outbox(), "stale")
    assert alert.chat_id == ADMIN and alert.text.startswith("⚠️ 信息源久未更新：沉默的源")
    assert "3天" in alert.text  # the expected period, as staff read it
    assert feed_server.stats("/n.xml").hits > 10  # it kept answering (304) all along

    feed_server.route("/n.xml", rss([("https://n.example/2", "新的本地新闻", "雨。", t), *old]), etag='"new"')
    walk(svc, t, 0.5, timedelta(hours=6))
    [fresh] = health(svc.outbox(), "fresh")
    assert fresh.chat_id == ADMIN and fresh.text.startswith("✅ 信息源恢复更新：沉默的源")
    assert len(health(svc.outbox(), "stale")) == 1


@pytest.mark.parametrize(
    ("kind_and_override", "quiet_days", "alerted"),
    [
        ("    kind: own\n    channel: portal\n", 5, False),  # own outlets: 14 days by default
        ("    kind: own\n    channel: portal\n", 15, True),
        ("    kind: upstream\n", 8, False),  # upstream: 10 days (long holidays)
        ("    stale_after: 1d\n", 1.5, True),  # a source's own period
        ("    stale_after: 0\n", 30, False),  # never
    ],
)
def test_expected_update_periods_per_kind_and_per_source(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer, kind_and_override: str, quiet_days: float,
    alerted: bool,
) -> None:  # fmt: skip
    feed_server.route("/f.xml", rss([("https://f.example/1", "无关新闻", "晴。", NOW - timedelta(hours=1))]))
    cfg = write_config(tmp_path, f"  - name: 源\n    url: {feed_server.url('/f.xml')}\n{kind_and_override}")
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=10))
    svc.step(NOW)
    walk(svc, NOW, quiet_days, timedelta(days=quiet_days / 5))
    assert bool(health(svc.outbox(), "stale")) is alerted


def rsshub_page(message: str) -> bytes:
    """RSSHub's error page, in the shape of its lib/views/error.tsx (our own bytes)."""
    return (
        "<!DOCTYPE html><html><head><title>RSSHub</title></head><body>"
        '<img src="/logo.png" alt="RSSHub"><h1 class="text-4xl font-bold">Looks like something went wrong</h1>'
        '<p class="message">Error Message:<br><code class="mt-2 block details">'
        f"{message}</code></p><p>Route: <code>/weibo/keyword/:keyword</code></p></body></html>"
    ).encode()


@pytest.mark.parametrize(
    ("status", "message", "named"),
    [
        (404, "NotFoundError: The route does not exist or has been deleted.", "RSSHub 路由不存在或已被删除"),
        (503, "Error: Cookies expired. Please update WEIBO_COOKIES", "Cookie 已失效"),
        (
            503,
            "ConfigNotFoundError: Weibo RSS is disabled due to the lack of relevant config",
            "缺少该路由所需的配置",
        ),
        (403, "RejectError: Authentication failed. Access denied.", "RSSHub 拒绝访问该路由"),
        (503, "FetchError: request to https://www.gov.cn/ failed, reason: socket hang up", "RSSHub 路由出错"),
    ],
)
def test_rsshub_error_pages_are_named_in_the_feed_health_alert(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer, status: int, message: str, named: str
) -> None:
    feed_server.route(
        "/weibo/keyword/anhui", rsshub_page(message), status=status, content_type="text/html; charset=utf-8"
    )
    cfg_path = write_config(tmp_path, "  - name: 微博搜索\n    route: /weibo/keyword/anhui\n")
    cfg_path.write_text(
        f"rsshub_base: {feed_server.url('')}\n" + cfg_path.read_text(encoding="utf-8"), encoding="utf-8"
    )
    svc = Service.start(sqlite_engine, cfg_path, NOW - timedelta(minutes=10))
    svc.step(NOW)
    walk(svc, NOW, 0.15, timedelta(hours=1))  # three more polls: the third failure alerts
    with Session(sqlite_engine) as s:
        st = s.get_one(FeedState, "微博搜索")
    assert st.last_error and named in st.last_error and message.split(":")[0] in st.last_error
    [down] = health(svc.outbox(), "down")
    assert named in down.text


def test_quiet_periods_are_validated_and_set_per_kind(tmp_path: Path) -> None:
    from responder.configfile import ConfigError
    from responder.runtime import load_settings

    cfg = write_config(tmp_path, "  - name: 源\n    url: http://127.0.0.1:9/a.xml\n    stale_after: soon\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert "stale_after" in str(err.value) and "soon" in str(err.value)
    cfg = write_config(
        tmp_path, "  - name: 源\n    url: http://127.0.0.1:9/a.xml\n", extra="  stale_after: {news: 1d}\n"
    )
    feeds = load_settings(cfg).feeds
    assert feeds.stale_after_of(feeds.sources[0]) == timedelta(days=1)
    assert feeds.polling.stale_after.own == timedelta(days=14)
