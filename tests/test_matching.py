"""Schemes against report text: region AND event NOT exclude; topic-only for upstream."""

from __future__ import annotations

import random

import pytest
import rjieba

from responder.analysis.gazetteer import EVERYDAY, gazetteer
from responder.config import Scheme
from responder.matching import Matcher, MatchResult
from responder.text import report_text

ANHUI = Scheme(
    name="安徽事故",
    region=["安徽", "淮南", "淮南市", "淮北", "合肥"],
    event=["爆炸", "死亡", "透水", "被困", "矿难"],
    exclude=["演练", "招聘"],
)
POLICY = Scheme(name="转载政策", applies_to=["upstream"], topic=["安全生产", "应急管理", "防汛"])
MATCHER = Matcher([ANHUI, POLICY])


def match(title: str, summary: str = "", kind: str = "news") -> MatchResult:
    return MATCHER.match(report_text(title, summary), kind)


@pytest.mark.parametrize(
    ("title", "summary", "relevant", "hits"),
    [
        # plain hit; overlapping region words both reported
        (
            "淮南市一化工厂发生爆炸",
            "",
            True,
            {"region": ["淮南", "淮南市"], "event": ["爆炸"], "exclude": []},
        ),
        # a word only in an <img alt> or a link is not in the text
        ("淮南市一化工厂新闻", '<img alt="爆炸"><a href="http://x.cn/爆炸">详情</a>', False, None),
        # the event word only in the summary
        ("淮北矿业集团通报", "<p>井下发生<b>透水</b>，5人被困</p>", True, None),
        # full-width digits normalised; matching still on words
        ("合肥一工地事故死亡１２人", "", True, {"region": ["合肥"], "event": ["死亡"], "exclude": []}),
        # traditional text matches only after conversion
        ("淮北煤礦發生礦難", "", True, {"region": ["淮北"], "event": ["矿难"], "exclude": []}),
        # exclusion word vetoes
        (
            "淮南市举行危化品爆炸事故应急演练",
            "",
            False,
            {"region": ["淮南", "淮南市"], "event": ["爆炸"], "exclude": ["演练"]},
        ),
        # region without event
        ("合肥今日天气晴", "", False, {"region": ["合肥"], "event": [], "exclude": []}),
        # event elsewhere
        ("江苏一化工厂爆炸", "", False, {"region": [], "event": ["爆炸"], "exclude": []}),
    ],
)
def test_news_scheme(title: str, summary: str, relevant: bool, hits: dict[str, list[str]] | None) -> None:
    r = match(title, summary)
    assert r.relevant is relevant
    if relevant:
        assert r.scheme == "安徽事故"
    if hits is not None:
        assert r.hits == hits


def test_traditional_title_would_not_match_without_conversion() -> None:
    # the raw traditional spelling is not in the word list: conversion is what makes it match
    assert not MATCHER.match("淮北煤礦發生礦難", "news").relevant
    assert match("淮北煤礦發生礦難").relevant


def test_no_hit_at_all_names_no_scheme() -> None:
    assert match("体育新闻") == MatchResult(False, None, {"region": [], "event": [], "exclude": []})


def test_topic_only_scheme_for_upstream() -> None:
    r = match("国务院办公厅关于进一步加强安全生产工作的通知", kind="upstream")
    assert r.relevant and r.scheme == "转载政策"
    assert r.hits == {"region": [], "event": [], "exclude": [], "topic": ["安全生产"]}
    assert not match("国务院关于印发数字经济发展规划的通知", kind="upstream").relevant


@pytest.mark.parametrize(
    ("title", "kind", "relevant"),
    [
        ("国务院关于加强安全生产的意见", "news", False),  # topic scheme watches upstream only
        ("淮南市化工厂爆炸", "upstream", False),  # news scheme does not watch upstream
        ("淮南市化工厂爆炸", "own", False),
        ("淮南市化工厂爆炸", "news", True),
    ],
)
def test_applies_to_respected(title: str, kind: str, relevant: bool) -> None:
    assert match(title, kind=kind).relevant is relevant


def test_first_matching_scheme_in_config_order_wins() -> None:
    a = Scheme(name="A", region=["淮南"], event=["爆炸"], exclude=["化工"])
    b = Scheme(name="B", region=["淮南"], event=["爆炸"])
    c = Scheme(name="C", region=["安徽"], event=["爆炸"])
    m = Matcher([a, b, c])
    # A is vetoed by its own exclusion; B is next in order
    assert m.match(report_text("安徽淮南化工厂爆炸", ""), "news").scheme == "B"
    assert m.match(report_text("安徽淮南煤矿爆炸", ""), "news").scheme == "A"


def test_closest_scheme_explains_a_miss() -> None:
    a = Scheme(name="A", region=["合肥"], event=["坍塌"])
    b = Scheme(name="B", region=["淮南", "安徽"], event=["爆炸"], exclude=["演习"])
    m = Matcher([a, b])
    r = m.match(report_text("安徽淮南消防演习模拟爆炸", ""), "news")
    assert r == MatchResult(False, "B", {"region": ["安徽", "淮南"], "event": ["爆炸"], "exclude": ["演习"]})


def test_config_words_in_traditional_and_full_width_still_match() -> None:
    m = Matcher([Scheme(name="T", region=["臺灣", "ＡＢ市"], event=["礦難"])])
    r = m.match(report_text("台湾AB市发生矿难", ""), "news")
    assert r.relevant
    assert r.hits["region"] == sorted(["ＡＢ市", "臺灣"])  # reported as written in the config
    assert r.hits["event"] == ["礦難"]


def test_latin_words_match_case_insensitively() -> None:
    m = Matcher([Scheme(name="L", region=["Anhui"], event=["explosion"])])
    assert m.match(report_text("ANHUI chemical plant Explosion", ""), "news").relevant


def test_no_schemes() -> None:
    assert not Matcher([]).match("淮南爆炸", "news").relevant


def test_every_anhui_county_named_alone_matches_the_province_scheme() -> None:
    # The acceptance-style scheme: 安徽省 and its 16 cities; the gazetteer supplies the rest.
    g = gazetteer()
    [anhui] = g.resolve("安徽省")
    cities = sorted(d.name for d in g.by_code.values() if d.level == 2 and anhui.contains(d))
    matcher = Matcher([Scheme(name="皖", region=["安徽省", *cities], event=["爆炸"])])
    counties = [
        d for d in g.by_code.values() if d.level == 3 and anhui.contains(d) and d.name not in EVERYDAY
    ]
    assert len(counties) > 100
    missed = [
        d.name
        for d in counties
        for text in (f"{d.name}一工厂发生爆炸", f"21日,{d.name}境内一化工厂发生爆炸")
        if not matcher.match(report_text(text, ""), "news").relevant
    ]
    assert missed == []


def _stands(text: str, start: int, end: int) -> bool:
    """The documented rule for a short place name, computed the plain way: not followed by a
    street or building word, and on word boundaries of the segmented window of 4 characters either
    side (cut after the name when 一 follows it)."""
    from responder.analysis.gazetteer import _NAME_CONTINUES

    if text.startswith(_NAME_CONTINUES, end):
        return False
    stop = end if text.startswith("一", end) else len(text)
    left = max(0, start - 4)
    cuts, pos = {0}, 0
    for word in rjieba.cut(text[left : min(end + 4, stop)]):
        pos += len(word)
        cuts.add(pos)
    return start - left in cuts and end - left in cuts


def _expected_hits(scheme: Scheme, text: str) -> dict[str, list[str]]:
    """What a province scheme should report, word by word: written words where they occur, the
    gazetteer's names inside its region where they occur, short ones where one occurrence stands."""
    g = gazetteer()
    written = set(scheme.region)
    region = {w for w in scheme.region if w in text}
    roots = [d for w in scheme.region for d in g.resolve(w)]
    for alias, short in g.aliases_within(roots).items():
        if alias in written or alias in EVERYDAY:
            continue
        at = [i for i in range(len(text)) if text.startswith(alias, i)]
        if any(not short or _stands(text, i, i + len(alias)) for i in at):
            region.add(alias)
    return {
        "region": sorted(region),
        "event": sorted(w for w in scheme.event if w in text),
        "exclude": sorted(w for w in scheme.exclude if w in text),
    }


def test_a_province_scheme_reports_exactly_the_names_that_stand() -> None:
    # Reports made of places of the province (full names, short forms, enterprises), everyday
    # characters, the characters that continue a name into a street (路, 镇), 一, punctuation:
    # the matcher's hits are the word-by-word rule's, however they are found.
    g = gazetteer()
    [anhui] = g.resolve("安徽省")
    names = sorted(g.aliases_within([anhui]))
    scheme = Scheme(
        name="皖", region=["安徽省", "合肥市", "淮南市"], event=["爆炸", "事故"], exclude=["演练"]
    )
    matcher = Matcher([scheme])
    rng = random.Random(20261130)
    filler = [*"的一是在了有和人这中大为上个我以要他时来用们生到作地于出就路街镇村站号县市区，。、 \n",
              "发生爆炸", "事故", "演练", "带来安全", "司马"]  # fmt: skip
    for _ in range(400):
        parts = rng.choices(filler, k=rng.randint(10, 40)) + rng.choices(names, k=rng.randint(1, 4))
        rng.shuffle(parts)
        text = "".join(parts)
        assert matcher.match(text, "news").hits == _expected_hits(scheme, text), text
