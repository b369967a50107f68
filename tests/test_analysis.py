"""Reading real-shaped news: report kinds, places from the gazetteer, datelines, occurrence, sites.

Every sentence here is of our own making, with the shapes real outlets use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from responder.analysis.datelines import mask_datelines
from responder.analysis.gazetteer import gazetteer
from responder.analysis.kinds import KINDS, classify
from responder.analysis.occurrence import Occurrence, read_occurrence
from responder.analysis.sites import read_sites, share_a_name
from responder.config import FeedsConfig, Scheme, Source
from responder.feeds.parse import FeedEntry
from responder.pipeline import Analysed, Intake, analyse
from responder.text import normalize

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("title", "summary", "kind"),
    [
        ("淮南一化工厂发生爆炸 已致3人死亡", "21日上午,淮南市潘集区一化工厂发生爆炸。", "accident"),
        ("一季度全省安全形势平稳", "一季度,全省共发生生产安全事故51起、死亡34人,同比下降12%。", "bulletin"),
        ("前三季度全国事故起数下降", "全国共发生各类生产安全事故1万余起,同比分别下降。", "bulletin"),
        ("强降雨致多地受灾", "强降雨已导致死亡10人,直接经济损失六点八三亿元。", "disaster"),
        ("某化工厂爆炸案今日开庭", "该厂去年发生爆炸致5人死亡,今日在市中级人民法院开庭审理。", "judicial"),
        (
            "某煤矿透水事故调查报告获批复",
            "经调查认定,该事故是一起生产安全责任事故,建议对12人追责问责。",
            "investigation",
        ),
        ("某矿难十周年:那些逝去的生命", "十年前的今天,某煤矿发生瓦斯爆炸,32人遇难。", "retrospective"),
        ("某区举行危化品泄漏事故应急演练", "演练模拟储罐泄漏引发火灾,造成2名工人中毒。", "drill"),
        ("全市开展安全生产大检查", "市安委会部署开展为期一个月的隐患排查整治。", "notice"),
        ("山西、安徽同日发生煤矿事故,12人死亡", "两起事故分别造成5人和7人死亡。", "roundup"),
        ("热电厂发生闪爆致6人死亡 全市将开展安全生产大检查", "该市随即部署安全生产大检查。", "accident"),
        ("某地今日天气晴", "气温回升。", "other"),
        # shapes from a held-out set of real reports
        ("某小区燃气爆炸 1人受伤", "巨响传出,许多居民误以为地震,纷纷下楼。", "accident"),  # a likeness
        (
            "某地面包车坠河",
            "受暴雪天气影响,面包车冲入河中。此次事故造成6人死亡。",
            "accident",
        ),  # weather as cause
        ("暴雪致多地受灾", "受暴雪天气影响,多地房屋倒塌,紧急转移安置群众2000人。", "disaster"),
        ("某市印发非煤矿山隐患集中排查治理行动方案", "决定在全市集中排查,遏制较大及以上事故。", "notice"),
        (
            "某煤矿发生透水事故 3人遇难",
            "这是该市今年发生的第2起较大事故。",
            "accident",
        ),  # 第2起 is no roundup
        (
            "某地一面包车冲入河中",
            "此次事故造成6人死亡,6名幸存者已送医。",
            "accident",
        ),  # survivors of this one
        ("某公司较大中毒和窒息事故", "经调查认定,该起事故的直接原因是:违规进入受限空间。", "investigation"),
        ("某厂闪爆事故", "某厂发生闪爆,造成3人死亡。事故直接原因:违规动火。", "investigation"),
        ("某矿爆炸已致5人死亡", "经初步调查认定,直接原因是井下炸药自燃。", "accident"),  # a first finding
        # what authorities do in the first days does not make the news an investigation
        ("某煤矿瓦斯爆炸已致12人遇难 3名责任人被控制", "企业3名责任人已被公安机关控制。", "accident"),
        ("某化工厂爆炸致3死", "21日上午,某化工厂发生爆炸。当地对相关责任人启动问责程序。", "accident"),
        ("某煤矿透水事故发生3天后 遇难人数升至12人", "事故发生3天后,搜救仍在继续。", "accident"),
        ("某煤矿透水事故 12名责任人被追责", "该矿去年发生透水事故,日前12名责任人被追责。", "investigation"),
        ("某化工厂爆炸事故一周年", "一年前的今天,某化工厂发生爆炸,造成12人死亡。", "retrospective"),
        (
            "某药厂发生泄漏",
            "车间的60多名员工吸入气体,相继发生不良反应,1人死亡。",
            "accident",
        ),  # no second accident
    ],
)
def test_kind_of_a_report(title: str, summary: str, kind: str) -> None:
    assert kind in KINDS
    assert classify(normalize(title), normalize(summary)) == kind


def test_gazetteer_names_full_short_and_old_forms() -> None:
    g = gazetteer()
    assert [d.name for d in g.resolve("肥西")] == ["肥西县"]
    assert [d.name for d in g.resolve("广德县")] == ["广德市"]  # renamed 2019: old reports still place
    [anhui] = g.resolve("安徽省")
    [dingyuan] = g.resolve("定远县")
    assert anhui.contains(dingyuan) and not dingyuan.contains(anhui) and anhui.related(dingyuan)
    assert "定远" in g.aliases_within([anhui]) and "无为市" in g.aliases_within([anhui])


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("无为一化工厂爆炸", ["无为市"]),
        ("隐患排查带来安全", []),  # 来安 inside 带来安全 is no place
        ("合肥市徽州大道与九华山路交口发生爆炸", ["合肥市"]),  # 徽州 of 徽州大道 is a road, 交口 a crossing
        (
            "河南三门峡义马一气化厂爆炸",
            ["河南省", "三门峡市", "义马市"],
        ),  # 河南 also names a county in Qinghai
        ("天长地久", []),
        # an everyday word said twice is no county (公安, 仁和), unless its city or province is named
        ("公安、消防赶到现场,公安机关已控制车主", []),
        ("天长市仁和集镇一居民楼爆炸,仁和集镇政府通报", ["天长市"]),
        ("湖北公安一化工厂爆炸", ["湖北省", "公安县"]),
        ("裕安一工厂发生爆炸", ["裕安区"]),  # the segmenter glues 安一; the headline's 一 ends the name
        # where people come from is not where it happened
        ("上海某工地一名来自安徽六安的工人死亡", ["上海市"]),
        ("安徽籍货车司机在江苏某地身亡", ["江苏省"]),
        ("死者系阜阳人,事发淮南人民医院门前", ["淮南市"]),
        ("谢家集一煤矿透水", ["谢家集区"]),
        ("安徽淮南大通区一工地坍塌", ["安徽省", "淮南市", "大通区"]),
    ],
)
def test_places_named_in_text(text: str, places: list[str]) -> None:
    assert [h.division.name for h in gazetteer().find(normalize(text))] == places


def test_datelines_and_bylines_are_blanked() -> None:
    text = normalize("新华社合肥11月21日电(记者 张某)21日上午,安庆市岳西县一化工厂发生爆炸。")
    masked = mask_datelines(text)
    assert len(masked) == len(text) and "合肥" not in masked and "记者" not in masked and "岳西县" in masked
    assert [h.division.name for h in gazetteer().find(masked)] == ["安庆市", "岳西县"]
    assert "合肥" not in mask_datelines(normalize("中新网合肥6月16日电 当涂县一化工厂发生爆炸"))
    assert mask_datelines("本报讯 某厂起火").startswith("   ")


@pytest.mark.parametrize(
    "text",
    [
        "合肥晚报讯 昨日,江苏某化工厂发生爆炸。",
        "新安晚报 安徽网 大皖客户端讯 昨日,江苏某化工厂发生爆炸。",
        "市场星报、安徽财经网(example.cn)、掌中安徽讯 (王某 记者 李某) 昨日,江苏某化工厂发生爆炸。",
        "据安徽日报报道,江苏某化工厂发生爆炸。",
        "江苏某化工厂发生爆炸。来源:安徽商报",
    ],
)
def test_an_outlet_named_after_a_place_is_not_the_place(text: str) -> None:
    # An Anhui paper carrying another province's accident is no Anhui accident.
    masked = mask_datelines(normalize(text))
    assert [h.division.name for h in gazetteer().find(masked)] == ["江苏省"]


def test_an_authority_named_as_the_source_still_places() -> None:
    masked = mask_datelines(normalize("据淮南市应急管理局消息,某煤矿发生透水事故。"))
    assert [h.division.name for h in gazetteer().find(masked)] == ["淮南市"]


def test_a_motorway_is_a_site() -> None:
    a = read_sites(normalize("21日16时许,沪渝高速芜湖段发生一起多车追尾事故"), ["芜湖"])
    b = read_sites(normalize("沪渝高速芜湖段8车相撞 现场一片狼藉"), ["芜湖"])
    c = read_sites(normalize("9日凌晨,合淮阜高速合肥往淮南方向发生追尾事故"), ["合肥", "淮南"])
    assert a.units == b.units == {"沪渝"} and c.units == {"合淮阜"}
    assert not read_sites(normalize("当地经济高速发展,车辆高速行驶"), []).known


def test_occurrence_read_against_the_page_date() -> None:
    page = datetime(2026, 11, 22, 9, 0, tzinfo=SHANGHAI)
    assert read_occurrence("昨日凌晨3时许,某化工厂发生爆炸。", page) == Occurrence(None, 11, 21, 180, None)
    assert read_occurrence("11月21日下午,某煤矿发生透水事故。", page) == Occurrence(
        None, 11, 21, None, (12, 19)
    )
    # A status line's date is not the accident's; a later written date is.
    occ = read_occurrence("截至22日6时,事故已造成5人死亡。21日16时22分,某厂房发生火灾。", page)
    assert (occ.day, occ.minute) == (21, 16 * 60 + 22)
    # The “8·12” label of an accident gives its day; a year written elsewhere completes it.
    assert read_occurrence("2015年8月12日,天津港“8·12”特别重大火灾爆炸事故", None).year == 2015
    # A month of a year pins the year and month, no day.
    assert read_occurrence("2011年7月,某公司发生一起爆炸事故。", None) == Occurrence(2011, 7, None)
    # Without the page's date, 昨日 says nothing.
    assert read_occurrence("昨日某厂起火。", None) == Occurrence()


def test_occurrences_that_contradict() -> None:
    afternoon = Occurrence(None, 11, 21, 15 * 60, None)
    assert afternoon.compatible(Occurrence(None, 11, 21, None, (12, 19)))
    assert not afternoon.compatible(Occurrence(None, 11, 21, 3 * 60, None))  # 凌晨 is another event
    assert not afternoon.compatible(Occurrence(None, 11, 22))
    assert afternoon.compatible(Occurrence()) and not afternoon.same_day(Occurrence())


def test_sites_and_two_plants_of_one_company() -> None:
    a = read_sites(normalize("马钢股份炼铁总厂发生漏灰事故"), [])
    b = read_sites(normalize("马钢股份第四钢轧总厂煤气泄漏"), [])
    c = read_sites(normalize("盘锦市盘山县浩业化工有限公司发生爆炸"), ["盘锦市", "盘山县"])
    assert share_a_name(a.companies, b.companies)  # one company …
    assert not share_a_name(a.units, b.units)  # … two plants
    assert c.companies == {"浩业"}


def _province_intake() -> Intake:
    # The acceptance-style scheme: 安徽省 and its 16 cities, the gazetteer supplying the rest.
    cities = ["合肥市", "芜湖市", "蚌埠市", "淮南市", "马鞍山市", "淮北市", "铜陵市", "安庆市", "黄山市", "滁州市",
              "阜阳市", "宿州市", "六安市", "亳州市", "池州市", "宣城市"]  # fmt: skip
    scheme = Scheme(name="安徽", region=["安徽省", *cities], event=["爆炸", "死亡", "坍塌", "事故", "遇难"])
    return Intake.from_config(FeedsConfig(sources=[Source(name="s", url="s.xml")], schemes=[scheme]))


def _read(title: str, summary: str, dated: bool = True) -> Analysed:
    page = datetime(2026, 5, 2, 9, 0, tzinfo=SHANGHAI) if dated else None
    entry = FeedEntry(guid="g", link=None, title=title, summary_html=summary, published=page)
    return analyse(
        entry, Source(name="s", url="s.xml"), _province_intake(), datetime(2026, 5, 2, 2, 0, tzinfo=UTC)
    )


def test_a_province_scheme_places_a_county_named_alone() -> None:
    a = _read("凤台县一煤矿发生事故", "1日上午,凤台县一煤矿发生顶板事故,2人死亡。")
    b = _read("潘集区一工地坍塌", "潘集区一在建工地坍塌,致1人死亡。")
    assert a.match.relevant and a.place == "凤台县" and a.grade is not None and a.grade.label == "一般"
    assert b.match.relevant and b.place == "潘集区"
    # 皖北, 皖南 … only ever mean Anhui
    assert _read("皖北一煤矿发生透水事故", "皖北煤电集团所属一煤矿发生透水,2人遇难。").match.relevant
    # 郊区 (also 铜陵市郊区) and a county of Hubei named in passing make no Anhui report
    assert not _read("某市郊区一仓库爆炸", "北京市郊区一仓库发生爆炸,1人死亡。").match.relevant
    assert not _read("湖北公安一厂房起火", "公安县一厂房起火,1人死亡。").match.relevant


def test_a_sentence_naming_two_provinces_keeps_its_clauses_about_the_region() -> None:
    a = _read(
        "安徽某地一轿车坠河致3人亡 其中一人为湖北某地干部",
        "1日下午,六安市金寨县一轿车冲断护栏坠河,事故原因正在调查。",
    )
    assert (a.figures.deaths, a.grade.label if a.grade else None) == (3, "较大")
    roundup = _read("山西、安徽同日发生煤矿事故,12人死亡", "淮南一煤矿3人死亡,山西一煤矿9人死亡。")
    assert roundup.kind == "roundup" and roundup.grade is None


def test_an_undated_page_about_an_accident_of_long_ago_is_a_look_back() -> None:
    old = _read("1997年11月13日,淮南某煤矿发生特大瓦斯爆炸事故", "当时井下123人,87人遇难。", dated=False)
    recent = _read("2022年2月6日,合肥市一工厂发生爆炸", "事故造成3人死亡。", dated=False)
    assert old.match.relevant and old.kind == "retrospective" and old.grade is None  # no 特别重大 alarm
    # a machine-written "analysis" dated by month only: still long ago
    essay = _read(
        "某化工爆炸事件是一起令人痛心的事故,其发生的真相引发了社会关注。",
        "本文将从事件背景进行分析。2011年7月,马鞍山市某化工公司发生一起爆炸事故,造成341人死亡。",
        dated=False,
    )
    assert essay.kind == "retrospective" and essay.grade is None
    assert recent.kind == "accident" and recent.grade is not None and recent.grade.label == "较大"


def test_an_accident_elsewhere_with_the_regions_campaign_is_a_notice() -> None:
    a = _read("江苏某化工厂爆炸致78死 安徽紧急开展化工企业安全排查",
              "江苏某化工园区发生爆炸事故后,安徽省安委会立即部署全省开展危险化学品隐患排查。")  # fmt: skip
    b = _read(
        "浙江某海运公司货轮在芜湖长江段发生闪爆 致3人死亡", "9月25日晚,货轮在芜湖市鸠江区长江段发生闪爆。"
    )
    assert a.match.relevant and a.kind == "notice" and a.grade is None
    assert (
        b.kind == "accident" and b.grade is not None and b.grade.label == "较大"
    )  # the accident is in Anhui


def test_an_accident_elsewhere_whose_victims_came_from_the_region_is_no_region_accident() -> None:
    a = _read(
        "上海一工地事故致1死 死者为安徽工人", "上海市某工地发生高处坠落事故,一名来自安徽六安的工人死亡。"
    )
    b = _read("安徽籍货车司机在江苏某地追尾身亡", "江苏某地发生追尾事故,安徽籍货车司机当场死亡。")
    c = _read("合肥一工地坍塌致2死", "合肥市某工地坍塌,2名来自河南的工人死亡。")
    assert a.match.relevant and a.kind == "other" and a.place == "上海"
    assert not b.match.relevant  # 安徽籍 is no region word where it stands
    assert c.kind == "accident" and c.place == "合肥"
