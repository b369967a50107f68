"""The feeds.yaml files we ship load, compile, and say what they promise."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from responder.config import FeedsConfig, load_feeds
from responder.feeds.decode import decode_feed
from responder.feeds.parse import parse_feed
from responder.matching import Matcher
from responder.text import report_text

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "feeds.yaml"
OFFLINE = ROOT / "examples" / "offline" / "feeds.yaml"
CITIES = [
    "合肥",
    "芜湖",
    "蚌埠",
    "淮南",
    "马鞍山",
    "淮北",
    "铜陵",
    "安庆",
    "黄山",
    "滁州",
    "阜阳",
    "宿州",
    "六安",
    "亳州",
    "池州",
    "宣城",
]


@pytest.fixture(scope="module", params=[MAIN, OFFLINE], ids=["feeds.yaml", "offline"])
def shipped(request: pytest.FixtureRequest) -> tuple[Path, FeedsConfig]:
    return request.param, load_feeds(request.param)


def test_config_validates_and_builds_matchers(shipped: tuple[Path, FeedsConfig]) -> None:
    _, cfg = shipped
    assert cfg.sources and cfg.schemes
    for scheme in cfg.schemes:
        assert Matcher([scheme]).word_count > 0
    Matcher(cfg.schemes)


def test_every_source_kind_is_covered(shipped: tuple[Path, FeedsConfig]) -> None:
    _, cfg = shipped
    kinds = {s.kind for s in cfg.sources}
    assert kinds == {"news", "upstream", "own"}
    for kind in ("news", "upstream"):
        assert any(kind in s.applies_to for s in cfg.schemes), f"no scheme watches {kind} sources"


def test_all_sixteen_cities_are_region_words(shipped: tuple[Path, FeedsConfig]) -> None:
    _, cfg = shipped
    region = {w for s in cfg.schemes for w in s.region}
    assert set(CITIES) <= region, sorted(set(CITIES) - region)
    assert "安徽" in region


def test_real_config_uses_rsshub_for_government_sources() -> None:
    cfg = load_feeds(MAIN)
    assert cfg.rsshub_base
    routes = {s.route for s in cfg.sources if s.route}
    assert "/gov/zhengce/zuixin" in routes
    for s in cfg.sources:
        if s.enabled and s.url:
            assert urlsplit(s.url).scheme in ("http", "https")
        # a placeholder left for the bureau to fill in must not be polled
        assert s.enabled is False or "REPLACE" not in (s.route or s.url or "")


@pytest.mark.parametrize(
    ("text", "relevant"),
    [
        ("事故发生后，合肥市立即启动应急预案", True),  # real reports say this; not an exclusion
        ("六安一工地坍塌 工人未经安全培训上岗", True),
        ("芜湖市开展危化品泄漏应急演练", False),
        ("带来安全 天长地久 发生事故", False),  # 来安, 天长 are not matched inside common words
    ],
)
def test_real_scheme_judgement(text: str, relevant: bool) -> None:
    m = Matcher(load_feeds(MAIN).schemes)
    assert m.match(report_text(text, ""), "news").relevant is relevant


def _offline_entries() -> list[tuple[str, str, str, bool]]:
    """(source, kind, title, relevant) for every item of the offline example."""
    cfg = load_feeds(OFFLINE)
    matcher = Matcher(cfg.schemes)
    out = []
    for source in cfg.sources:
        path = Path(unquote(urlsplit(cfg.url_of(source, OFFLINE.parent)).path))
        feed = parse_feed(decode_feed(path.read_bytes(), None))
        for e in feed.entries:
            r = matcher.match(report_text(e.title, e.summary_html), source.kind)
            out.append((source.name, source.kind, e.title, r.relevant))
    return out


def test_offline_files_exist() -> None:
    cfg = load_feeds(OFFLINE)
    for source in cfg.sources:
        assert source.url is not None and not urlsplit(source.url).scheme, "offline sources are local files"
        assert (OFFLINE.parent / source.url).is_file(), source.url


def test_offline_example_alerts_on_the_three_events_only() -> None:
    entries = _offline_entries()
    relevant = {title for _, kind, title, rel in entries if rel and kind == "news"}
    assert relevant == {
        "淮南市潘集区一化工企业发生爆炸 已致3人死亡",
        "淮南化工厂爆炸事故死亡人数升至12人",
        "淮北一煤矿发生透水事故 井下9人被困",
        "六安市金安区一在建厂房坍塌 2人受伤",
        "潘集化工园区爆燃事故已造成５人遇难",  # GBK declared as gb2312
        "转载：淮南潘集一化工企业爆炸致3人死亡",
        "淮北透水事故救援进展：已打通生命通道",
        "安徽淮南化工廠爆炸　罹難人數增至８人",  # Big5, traditional
    }
    upstream = {title for _, kind, title, rel in entries if rel and kind == "upstream"}
    assert upstream == {
        "国务院办公厅关于进一步加强危险化学品安全生产工作的意见",
        "国务院安全生产委员会关于切实做好今冬明春安全防范工作的通知",
    }
    own = [title for _, kind, title, _ in entries if kind == "own"]
    assert own == ["国务院办公厅关于进一步加强危险化学品安全生产工作的意见"]
    assert ("江淮新闻网", "news", "芜湖市举行危险化学品泄漏事故应急演练", False) in entries
