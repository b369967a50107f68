"""Enterprises named instead of a place: 马钢 is in 马鞍山, and a named place still wins.

Every sentence here is of our own making, with the shapes real reports use (a listed company's
announcement that names only itself, a group's mine named in another province, a city named by
the writer beside the mine).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.enginekit import ROOT, ROSTER

from responder.analysis.enterprises import builtin_enterprises
from responder.analysis.gazetteer import gazetteer
from responder.cli import main
from responder.clustering import Candidate, Clusterer
from responder.config import FeedsConfig, Scheme, Source, load_feeds
from responder.configfile import ConfigError
from responder.feeds.parse import FeedEntry
from responder.matching import Matcher
from responder.pipeline import Analysed, Intake, analyse
from responder.text import normalize

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
SOURCE = Source(name="s", url="s.xml")
CITIES = ["合肥", "芜湖", "蚌埠", "淮南", "马鞍山", "淮北", "铜陵", "安庆", "黄山", "滁州", "阜阳", "宿州", "六安", "亳州",
          "池州", "宣城"]  # fmt: skip
EVENT = ["爆炸", "泄漏", "坍塌", "事故", "遇难", "死亡", "中毒", "透水"]


def places(text: str) -> list[tuple[str, str]]:
    """(word as written, division) of each place the gazetteer reads in `text`."""
    return [(h.word, h.division.name) for h in gazetteer().find(normalize(text))]


def anhui(**extra: object) -> Intake:
    scheme = Scheme(name="安徽", region=["安徽", *CITIES], event=EVENT, exclude=["演练"], **extra)  # type: ignore[arg-type]
    return Intake.from_config(FeedsConfig(sources=[SOURCE], schemes=[scheme]))


def read(it: Intake, title: str, summary: str, at: datetime = NOW) -> Analysed:
    entry = FeedEntry(guid=title, link=None, title=title, summary_html=summary, published=at)
    return analyse(entry, SOURCE, it, at + timedelta(minutes=5))


# ---------------------------------------------------------------- the data file


def test_every_entry_names_its_division_once_and_says_where_it_read_it() -> None:
    g = gazetteer()
    seen: dict[str, str] = {}
    for e in builtin_enterprises():
        assert e.source.strip().startswith(("http", "the ")), e.names  # a public page, or a stated reason
        division = g.division_named(e.where)  # one division, or NotADivision says which entry is wrong
        for name in e.names:
            assert name not in seen, f"{name} is listed twice ({seen[name]} and {e.where})"
            seen[name] = e.where
            assert g.resolve(name) == (division,)
    # none is a place name already: the data file may not shadow a county or a city
    assert not [n for n in seen if gazetteer().is_place_name(n)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("马钢股份炼铁总厂发生安全事故,检修中4人不幸遇难", [("马钢股份", "马鞍山市")]),
        ("马钢第四钢轧总厂一转炉煤气泄漏,2人中毒身亡", [("马钢", "马鞍山市")]),
        ("国投新集一在建矿井副井发生突水", [("国投新集", "安徽省")]),
        ("平煤神马集团一矿发生瓦斯突出,多人被困", [("平煤神马集团", "平顶山市")]),
        # a two-character name counts only where it stands as a word
        ("司马钢铁贸易公司仓库起火", []),
        # a mine of its own is placed in its county, inside the group's province
        ("淮河能源谢桥煤矿井下发生瓦斯燃爆", [("淮河能源", "安徽省"), ("谢桥煤矿", "颍上县")]),
    ],
)
def test_an_enterprise_alone_places_the_report(text: str, expected: list[tuple[str, str]]) -> None:
    assert places(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the place named beside the enterprise wins: its plant elsewhere, its mine in another province
        ("马钢合肥公司一车间发生爆炸,1人死亡", [("合肥", "合肥市")]),
        ("淮北矿业集团托管的内蒙古某煤矿发生运输事故。", [("内蒙古", "内蒙古自治区")]),
        # a place around it or inside it agrees with it
        ("安徽马钢炼铁总厂发生事故", [("安徽", "安徽省"), ("马钢", "马鞍山市")]),
        # the writer's city, even in another sentence, beats the data file's county
        ("淮南一煤矿发生爆炸。据了解,谢桥煤矿井口冒出浓烟。", [("淮南", "淮南市")]),
        # a place of another province in another sentence (a stock exchange) does not
        (
            "马钢股份公告:炼铁总厂发生事故。公告刊于上海证券交易所网站。",
            [("马钢股份", "马鞍山市"), ("上海", "上海市")],
        ),
        # its workers are its own, not people from somewhere
        ("马钢工人在厂区作业时被砸伤", [("马钢", "马鞍山市")]),
    ],
)
def test_a_named_place_still_wins(text: str, expected: list[tuple[str, str]]) -> None:
    assert places(text) == expected


# ---------------------------------------------------------------- matching and the intake


def test_a_province_scheme_matches_its_enterprises_and_no_other_provinces() -> None:
    m = Matcher([Scheme(name="安徽", region=["安徽", *CITIES], event=EVENT)])
    hit = m.match(normalize("马钢股份:炼铁总厂发生安全事故 抢修中4人不幸遇难"), "news")
    assert hit.relevant and hit.hits["region"] == ["马钢", "马钢股份"]
    assert not m.match(normalize("包钢板材厂发生爆炸 已致6人死亡"), "news").relevant
    assert not m.match(normalize("司马钢铁贸易公司仓库发生爆炸"), "news").relevant


def test_a_report_naming_only_the_enterprise_opens_an_incident_with_its_grade() -> None:
    a = read(
        anhui(), "马钢股份:炼铁总厂发生安全事故", "2日10时许,马钢股份炼铁总厂一料仓开裂,抢修中4人不幸遇难。"
    )
    assert a.opens_incident and a.place == "马钢股份"
    assert a.grade is not None and a.grade.label == "较大"
    assert a.key.place == gazetteer().resolve("马鞍山市")[0].code
    # the same enterprise with its plant in another province is no Anhui accident
    b = read(anhui(), "马钢下属江苏某公司车间爆炸 1人死亡", "2日,该公司位于江苏某地的车间发生爆炸,1人死亡。")
    assert not b.opens_incident


def test_two_plants_of_one_enterprise_are_two_incidents_and_one_plant_is_one() -> None:
    it = anhui()
    reports = [
        read(it, "马钢炼铁总厂料仓开裂 4人遇难", "2日10时许,安徽马鞍山马钢炼铁总厂一料仓开裂,4人遇难。"),
        read(
            it,
            "马钢股份公告:炼铁总厂发生安全事故",
            "马钢股份公告,炼铁总厂2日10时许发生安全事故,4人遇难。",
            NOW + timedelta(hours=2),
        ),
        read(
            it,
            "马钢第四钢轧总厂煤气泄漏 2人死亡",
            "马钢第四钢轧总厂一转炉检修时煤气泄漏,2人经抢救无效死亡。",
            NOW + timedelta(hours=3),
        ),
    ]
    clusterer = Clusterer(it.config.grouping)
    incidents: list[int] = []
    for i, a in enumerate(reports):
        iid = clusterer.assign(a.key, a.published, a.published + timedelta(minutes=5))
        if iid is None:
            iid = i + 1
            clusterer.add(Candidate.of(iid, a.key, a.published))
        else:
            clusterer.update(iid, a.key, a.published)
        incidents.append(iid)
    assert incidents[0] == incidents[1] != incidents[2]


# ---------------------------------------------------------------- a scheme's own enterprises in feeds.yaml

FEEDS = """\
sources:
  - name: 新闻
    url: https://example.org/news.xml
schemes:
  - name: 安徽事故
    region: [安徽, 合肥, 马鞍山]
    event: [爆炸, 事故, 死亡]
    enterprises:
      恒昌化工: 马鞍山市
      {extra}
"""


def write(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(FEEDS.replace("{extra}", extra), encoding="utf-8")
    return path


def test_a_scheme_adds_its_own_enterprises(tmp_path: Path) -> None:
    config = load_feeds(write(tmp_path, "东升化工厂: 340104"))
    it = Intake.from_config(config)
    a = analyse(
        FeedEntry(
            guid="g",
            link=None,
            title="恒昌化工发生爆炸",
            summary_html="恒昌化工一车间爆炸,2人死亡。",
            published=NOW,
        ),
        config.sources[0],
        it,
        NOW,
    )
    assert a.opens_incident and a.match.hits["region"] == ["恒昌化工"]
    assert a.key.place == gazetteer().resolve("马鞍山市")[0].code
    b = analyse(
        FeedEntry(
            guid="h",
            link=None,
            title="东升化工厂起火爆炸",
            summary_html="东升化工厂爆炸,1人死亡。",
            published=NOW,
        ),
        config.sources[0],
        it,
        NOW,
    )
    assert b.opens_incident and b.key.place == "340104"  # 蜀山区, written as its code
    # the shipped list still counts beside the scheme's own
    assert it.places.resolve("马钢") == gazetteer().resolve("马鞍山市")


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ("东升化工: 东升市", "东升化工", "不是行政区名称"),
        ("东升化工: 朝阳区", "东升化工", "110105"),  # Beijing's, Changchun's …: the codes are listed
        ("淮南: 淮南市", "淮南", "已是地名"),
        ("东升化工: 南京市", "东升化工", "不在本方案的地区之内"),
        ("恒昌化工: 合肥市", "恒昌化工", "重复"),  # the same name written twice
    ],
)
def test_a_bad_enterprise_is_reported_at_its_line(tmp_path: Path, extra: str, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_feeds(write(tmp_path, extra))
    [problem] = exc.value.problems
    assert (problem.line, problem.field) == (10, f"schemes[0].enterprises.{field}")
    assert words in problem.message and "feeds.yaml:10" in str(exc.value)


def test_two_schemes_placing_one_enterprise_apart_are_refused(tmp_path: Path) -> None:
    text = FEEDS.replace("{extra}", "") + (
        "  - name: 合肥事故\n    region: [合肥, 马鞍山]\n    event: [爆炸]\n    enterprises:\n      恒昌化工: 合肥市\n"
    )
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_feeds(path)
    [problem] = exc.value.problems
    assert problem.field == "schemes[1].enterprises.恒昌化工" and problem.line == 15
    assert "安徽事故" in problem.message


def test_check_config_names_the_bad_enterprise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    path = write(tmp_path, "东升化工: 东升市")
    path.write_text(path.read_text(encoding="utf-8") + f"playbooks: {ROOT / 'playbooks'}\n", encoding="utf-8")
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "feeds.yaml:10: schemes[0].enterprises.东升化工" in err and "东升市" in err
