"""Grading: what a duty officer reads in a report becomes the regulation's grade.

Texts are normalised the way intake stores them (NFKC: ASCII digits and commas,
simplified characters, collapsed spaces), except where full-width digits are the point.
"""

from __future__ import annotations

import pytest

from responder.analysis.figures import extract_figures, grade_text, parse_number
from responder.grading import (
    DEFAULT_THRESHOLDS,
    Bar,
    Figures,
    Grade,
    GradeThresholds,
    grade_for,
)
from responder.text import normalize

N = None
一般, 较大, 重大, 特别重大 = Grade.一般, Grade.较大, Grade.重大, Grade.特别重大

CASES: list[tuple[str, tuple[int | None, int | None, float | None], Grade | None]] = [
    # deaths, in the forms news uses
    ("淮南一化工厂发生爆炸 死亡18人", (18, N, N), 重大),
    ("安徽淮南化工厂爆炸事故已致18人死亡", (18, N, N), 重大),
    ("淮北一煤矿发生透水事故 造成3死2伤", (3, N, N), 较大),
    ("合肥一工地塌方 三人死亡", (3, N, N), 较大),
    ("宿州一烟花厂爆炸 十八人遇难", (18, N, N), 重大),
    ("六安一矿山事故二十三人遇难", (23, N, N), 重大),
    ("芜湖一厂房起火致1人死亡", (1, N, N), 一般),
    ("淮北一煤矿透水 3名矿工遇难", (3, N, N), 较大),
    ("爆炸事故已造成12人罹难、5人受伤", (12, N, N), 重大),
    ("阜阳一仓库火灾 死亡１２人", (12, N, N), 重大),  # full-width digits, folded by grading itself
    ("蚌埠一化工企业闪爆 12人不幸身亡", (12, N, N), 重大),
    ("据最新消息,淮南爆炸事故遇难人数升至12人", (12, N, N), 重大),
    ("截至22日8时,死亡人数上升到15人", (15, N, N), 重大),
    ("救援仍在进行,目前已有5人死亡", (5, N, N), 较大),
    ("此次事故共造成7人死亡", (7, N, N), 较大),
    ("事故造成2人死亡、3人重伤", (2, 3, N), 一般),
    ("事故已造成3人死亡18人受伤", (3, N, N), 较大),  # 死亡18人 here is not a death count
    ("事故死亡3人受伤12人", (3, N, N), 较大),
    ("马鞍山一工厂事故一死两重伤", (1, 2, N), 一般),
    ("两名工人经抢救无效死亡", (2, N, N), 一般),
    ("3名被困矿工抢救未果遇难", (3, N, N), 较大),
    ("事故中5人未受重伤", (N, N, N), N),
    ("事故共有一名工人死亡", (1, N, N), 一般),
    ("首报3人死亡,随后核实7人遇难,截至发稿死亡人数升至12人", (12, N, N), 重大),  # the maximum
    ("铜陵一隧道坍塌 近30人遇难", (29, N, N), 重大),  # 近30 is under 30
    ("某地一商场火灾30人死亡", (30, N, N), 特别重大),  # 30 is 特别重大 ("以上" inclusive)
    ("十余人死亡", (10, N, N), 重大),  # a lower bound counts as its number
    ("遇难者人数升至12人", (12, N, N), 重大),
    ("2人送医后不治身亡", (2, N, N), 一般),
    ("8人被救出后经抢救无效死亡", (8, N, N), 较大),
    ("一家三口遇难", (3, N, N), 较大),
    ("搜救人员已找到5具遇难者遗体", (5, N, N), 较大),
    ("当场死亡3人", (3, N, N), 较大),
    ("截至目前死亡 18 人", (18, N, N), 重大),  # spaced out by the site
    ("消防员救出12人 死亡人数仍在核实", (N, N, N), N),  # the title's 12人 is not the summary's
    ("死亡失踪12人", (N, N, N), N),  # dead and missing together: no death count
    # serious injuries (acute poisoning counts)
    ("另有8人重伤,已送医救治", (N, 8, N), 一般),
    ("化工厂泄漏 10人急性中毒", (N, 10, N), 较大),
    ("有毒气体泄漏致50人中毒", (N, 50, N), 重大),
    ("重伤人数为12人", (N, 12, N), 较大),
    ("30人受伤,其中5人伤势较重", (N, N, N), 一般),  # badly hurt is not 重伤: plain injured
    ("爆炸造成100人重伤", (N, 100, N), 特别重大),
    # direct economic loss
    ("事故直接经济损失约1.2亿元", (N, N, 120_000_000), 特别重大),
    ("初步估算损失5000万元", (N, N, 50_000_000), 重大),
    ("直接经济损失3200余万元", (N, N, 32_000_000), 较大),
    ("经济损失1,200万元", (N, N, 12_000_000), 较大),
    ("经济损失约8000多万元", (N, N, 80_000_000), 重大),
    ("直接经济损失约二百万元", (N, N, 2_000_000), 一般),
    ("造成1.2亿元直接经济损失", (N, N, 120_000_000), 特别重大),
    ("直接经济损失近亿元", (N, N, 99_999_999), 重大),
    ("直接经济损失1亿2000万元", (N, N, 120_000_000), 特别重大),
    ("直接经济损失2.3亿余元", (N, N, 230_000_000), 特别重大),
    ("经济损失 1.2 亿元", (N, N, 120_000_000), 特别重大),
    ("经济损失初步估算在1000万元左右", (N, N, 10_000_000), 较大),
    # none
    ("所幸无人员伤亡", (0, 0, N), 一般),
    ("火灾未造成人员伤亡,起火原因正在调查", (0, 0, N), 一般),
    ("目前暂未发现人员伤亡", (0, 0, N), 一般),
    ("所幸无人死亡", (0, N, N), 一般),
    # numbers that are not casualties
    ("井下被困12人,救援正在进行", (N, N, N), N),
    ("仍有12人失联", (N, N, N), N),
    ("5人送医治疗,生命体征平稳", (N, N, N), N),
    # plain injuries never raise a grade, but they are a figure: the accident is 一般
    ("事故致30人受伤", (N, N, N), 一般),
    ("另有6人轻伤", (N, N, N), 一般),
    ("过火面积300平方米", (N, N, N), N),
    ("2026年11月21日14时30分许,合肥市蜀山区一小区发生火灾", (N, N, N), N),
    ("如有线索请拨打电话0551-62999515", (N, N, N), N),
    ("事故涉及3辆车", (N, N, N), N),
    ("周边10余家企业停产", (N, N, N), N),
    ("消防员救出8人", (N, N, N), N),
    ("紧急疏散200人", (N, N, N), N),
    ("经核查,已排除12人遇难可能", (N, N, N), N),
    ("网传8人死亡系谣言", (N, N, N), N),
    ("20名学生食物中毒", (N, N, N), N),
    ("该矿曾于2019年发生透水事故造成12人死亡。此次事故1人死亡", (1, N, N), 一般),  # history
    # a whole report
    (
        "安徽淮北一煤矿发生透水事故 被困12人 淮北市杜集区一煤矿11月21日14时30分发生透水事故,"
        "当班井下作业46人,34人安全升井,12人被困,目前已确认3人遇难,救援正在进行。",
        (3, N, N),
        较大,
    ),
]


@pytest.mark.parametrize(("text", "figures", "grade"), CASES, ids=[c[0][:24] for c in CASES])
def test_phrasing(
    text: str, figures: tuple[int | None, int | None, float | None], grade: Grade | None
) -> None:
    got, got_grade = grade_text(text)
    assert (got.deaths, got.serious_injuries, got.loss_cny) == figures
    assert got_grade == grade


# Shapes real outlets use that the first release missed (sentences of our own making).
REAL_SHAPES = [
    ("某花炮厂发生爆炸 2人当场炸死", (2, None, None, None), Grade.一般),
    ("一名工人送院后死亡", (1, None, None, None), Grade.一般),
    ("發(fā)生爆炸,3人經(jīng)搶救無(wú)效死亡", (3, None, None, None), Grade.较大),
    ("一仓库起火,直接经济损失10多万", (None, None, 100_000, None), Grade.一般),
    ("燃气爆炸致12人受伤,其中危重2人", (None, 2, None, 12), Grade.一般),
    ("洪灾造成直接经济损失六点八三亿元", (None, None, 683_000_000, None), Grade.特别重大),
    ("工地塔吊倒塌,3名重伤者在送医途中死亡,另有5人轻伤", (3, None, None, 5), Grade.较大),
    ("化工厂爆炸致16人轻重伤", (None, None, None, 16), Grade.一般),
    ("槽罐车侧翻,司机当场身亡", (1, None, None, None), Grade.一般),
    ("车间闪爆,1人当场死亡、4人送医院抢救无效后死亡", (5, None, None, None), Grade.较大),
    ("厂房起火,致13人受伤", (None, None, None, 13), Grade.一般),
    ("烧烤店爆炸已致廿五人死亡", (25, None, None, None), Grade.重大),
    ("所幸事故没有造成人员伤亡", (0, 0, None, 0), Grade.一般),
]


# Shapes found on a held-out set of real reports the rules had not seen (sentences of our own making).
HELD_OUT_SHAPES = [
    ("火灾无其他人员伤亡,一名工人失联", (0, 0, None, 0), Grade.一般),  # a missing worker is no death
    ("搜救发现5人,均已无生命体征", (5, None, None, None), Grade.较大),
    ("6名失联人员全部被找到,但遗憾的是,他们均已失去生命体征", (6, None, None, None), Grade.较大),
    ("打捞上岸后,医生确认王某某已没有生命体征", (1, None, None, None), Grade.一般),
    ("伤者生命体征平稳,暂无生命危险", (None, None, None, None), None),
    ("轿车坠入河中,车内4人(三男一女)全部死亡", (4, None, None, None), Grade.较大),
    ("一名工人从脚手架坠落,经抢救无效死亡", (1, None, None, None), Grade.一般),
    ("废品站起火 1男子当场身亡", (1, None, None, None), Grade.一般),
    ("面包车坠河致3人亡", (3, None, None, None), Grade.较大),
    ("2名工人坠亡,1人溺亡", (2, None, None, None), Grade.一般),
    ("3名消防员在救援中牺牲", (3, None, None, None), Grade.较大),
    ("经抢救无效死亡的和井下遇难的矿工共计33人", (33, None, None, None), Grade.特别重大),
    ("另有重伤员4名正在救治", (None, 4, None, None), Grade.一般),
    ("20人受伤,其中6人伤势严重", (None, None, None, 20), Grade.一般),  # badly hurt is not 重伤
    # hearsay: what netizens say is not the toll; what officials confirm is
    ("网民指爆炸至少造成十八人死亡,官方深夜证实三人受伤", (None, None, None, 3), Grade.一般),
    ("网传已有20人遇难,记者从应急管理局获悉,事故造成2人死亡", (2, None, None, None), Grade.一般),
    # totals, earlier and similar accidents beside the toll are not the toll
    ("某厂发生爆炸,2人死亡。今年以来全市已发生安全事故15起,死亡21人。", (2, None, None, None), Grade.一般),
    ("某矿透水,3人遇难。该集团去年共发生事故5起,死亡13人。", (3, None, None, None), Grade.较大),
    ("某民房燃气爆炸,1人死亡。此前该地也发生过类似事故,造成10人死亡。", (1, None, None, None), Grade.一般),
    ("货车侧翻,3人死亡。今年1-5月,全省道路交通事故死亡300余人。", (3, None, None, None), Grade.较大),
    ("继某地化工厂爆炸78人遇难后 又一化工厂爆炸致2死", (2, None, None, None), Grade.一般),
    ("工地坍塌,1人死亡。这是该市今年发生的第3起较大事故,累计死亡12人。", (1, None, None, None), Grade.一般),
    ("工地坍塌,1人死亡。另据报道,邻县一煤矿事故致12人遇难。", (1, None, None, None), Grade.一般),
    ("事故已造成12人遇难,是今年以来全省最严重的一起", (12, None, None, None), Grade.重大),  # before the aside
    ("气站泄漏后爆炸,有4人被烧伤", (None, None, None, 4), Grade.一般),
    ("屋内一男子因此受了重伤", (None, 1, None, None), Grade.一般),
    ("一名工人重伤后送医死亡", (1, None, None, None), Grade.一般),  # 重伤 who died: a death only
    ("一名工人被砸伤,送医救治", (None, None, None, 1), Grade.一般),
    ("一名路过的男子未受伤", (None, None, None, None), None),
    ("某药厂泄漏毒气37人住院8重伤", (None, 8, None, None), Grade.一般),  # a headline's bare counts
    ("某工厂爆炸 4伤1失联", (None, None, None, 4), Grade.一般),
]


@pytest.mark.parametrize(
    ("text", "figures", "grade"), HELD_OUT_SHAPES, ids=[c[0][:20] for c in HELD_OUT_SHAPES]
)
def test_held_out_shapes(text: str, figures: tuple[int | None, ...], grade: Grade | None) -> None:
    got, got_grade = grade_text(normalize(text))
    assert (got.deaths, got.serious_injuries, got.loss_cny, got.injured) == figures
    assert got_grade == grade


# One toll told in groups, as real reports on public pages tell it (those killed on the spot, then
# those who died on the way or in hospital, no total given): sentences of our own making.
GROUPED_TOLLS = [
    ("货车撞上面包车,当场造成2人死亡,另有1人在送往医院途中死亡", (3, None, None, None), Grade.较大),
    ("三轮车被撞,4人当场死亡,1人在送医途中死亡,1人经抢救无效死亡", (6, None, None, None), Grade.较大),
    ("车辆冲下路基,一名老人当场身亡,一名男子送医后抢救无效身亡", (2, None, None, None), Grade.一般),
    ("厂房爆炸,8人当场遇难。另有2名重伤者送医后不治身亡。", (10, None, None, None), Grade.重大),
    # the groups of a total already given add nothing to it
    ("事故造成3人死亡,其中2人当场死亡,1人经抢救无效死亡", (3, None, None, None), Grade.较大),
    # those still in hospital, or another year's dead, are no later group
    ("2人当场死亡。目前,5名伤者正在医院救治。", (2, None, None, None), Grade.一般),
    ("1人当场死亡。今年以来全市已有5人经抢救无效死亡。", (1, None, None, None), Grade.一般),
]


@pytest.mark.parametrize(("text", "figures", "grade"), GROUPED_TOLLS, ids=[c[0][:20] for c in GROUPED_TOLLS])
def test_a_toll_told_in_groups_is_summed(
    text: str, figures: tuple[int | None, ...], grade: Grade | None
) -> None:
    got, got_grade = grade_text(normalize(text))
    assert (got.deaths, got.serious_injuries, got.loss_cny, got.injured) == figures
    assert got_grade == grade


def test_another_years_accident_is_not_the_toll() -> None:
    text = normalize("2026年5月1日,某仓库起火,4人死亡。2015年某港口爆炸造成165人遇难,教训深刻。")
    assert extract_figures(text, 2026).deaths == 4
    assert extract_figures(normalize("2021年9月5日,一皮卡坠崖,12人死亡。"), 2021).deaths == 12


@pytest.mark.parametrize(("text", "figures", "grade"), REAL_SHAPES, ids=[c[0][:20] for c in REAL_SHAPES])
def test_real_shapes(text: str, figures: tuple[int | None, ...], grade: Grade | None) -> None:
    got, got_grade = grade_text(normalize(text))
    assert (got.deaths, got.serious_injuries, got.loss_cny, got.injured) == figures
    assert got_grade == grade


def test_at_least_forty_phrasings() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(
    ("figures", "grade"),
    [
        (Figures(2, 9, 9_999_999), 一般),
        (Figures(3, N, N), 较大),
        (Figures(9, N, N), 较大),
        (Figures(10, N, N), 重大),
        (Figures(29, N, N), 重大),
        (Figures(30, N, N), 特别重大),
        (Figures(N, 10, N), 较大),
        (Figures(N, 49, N), 较大),
        (Figures(N, 50, N), 重大),
        (Figures(N, 99, N), 重大),
        (Figures(N, 100, N), 特别重大),
        (Figures(N, N, 10_000_000), 较大),
        (Figures(N, N, 50_000_000), 重大),
        (Figures(N, N, 100_000_000), 特别重大),
        (Figures(1, 60, 1_000), 重大),  # the highest any figure reaches
        (Figures(0, 0, N), 一般),
        (Figures(), N),
    ],
)
def test_regulation_boundaries(figures: Figures, grade: Grade | None) -> None:
    assert grade_for(figures) == grade


def test_thresholds_come_from_one_place() -> None:
    strict = GradeThresholds(larger=Bar(1, 5, 1_000_000))
    assert grade_for(Figures(1, N, N), strict) == 较大
    assert grade_for(Figures(1, N, N), DEFAULT_THRESHOLDS) == 一般
    with pytest.raises(ValueError, match="rise from 较大"):
        GradeThresholds(larger=Bar(20, 10, 1))


def test_grade_labels() -> None:
    assert Grade.重大.label == "重大"
    assert Grade.from_label(" 较大 ") is Grade.较大
    assert Grade.重大 > Grade.较大
    with pytest.raises(ValueError, match="一般、较大、重大、特别重大"):
        Grade.from_label("严重")


def test_incident_figures_are_the_highest_of_its_reports() -> None:
    reports = [extract_figures(t) for t in ("3人死亡", "死亡人数升至12人,5人重伤", "直接经济损失约800万元")]
    assert Figures.highest(reports) == Figures(12, 5, 8_000_000)
    assert grade_for(Figures.highest(reports)) == 重大


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("18", 18),
        ("十", 10),
        ("十八", 18),
        ("二十三", 23),
        ("一百零五", 105),
        ("两千", 2000),
        ("1万", 10_000),
        ("1.2亿", 120_000_000),
        ("3200余万", 32_000_000),
        ("千万", 10_000_000),
        ("1,200万", 12_000_000),
    ],
)
def test_parse_number(text: str, value: float) -> None:
    assert parse_number(text) == value


def test_parse_number_rejects_words() -> None:
    with pytest.raises(ValueError, match="not a number"):
        parse_number("若干")
