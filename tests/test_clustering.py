"""Grouping: one event is one incident, however many outlets write it up and however they title it."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from responder.analysis.gazetteer import gazetteer
from responder.clustering import Candidate, Clusterer, ReportKey, clamp_published, fingerprint, hamming
from responder.config import FeedsConfig, Grouping, Scheme, Source
from responder.feeds.parse import FeedEntry
from responder.grading import Figures, Grade
from responder.pipeline import Analysed, Intake, analyse
from responder.simhash import BandIndex

BUNDLE = Path(__file__).parent / "data" / "grouping_bundle.yaml"
NOW = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
SOURCE = Source(name="测试源", url="feed.xml")
EVENT_WORDS = [
    "爆炸",
    "燃爆",
    "爆鸣",
    "火灾",
    "起火",
    "坍塌",
    "倾覆",
    "中毒",
    "泄漏",
    "死亡",
    "遇难",
    "事故",
    "受伤",
]


def intake(region: list[str], grouping: Grouping | None = None) -> Intake:
    scheme = Scheme(name="安徽", region=region, event=EVENT_WORDS, exclude=["演练"])
    return Intake.from_config(
        FeedsConfig(sources=[SOURCE], schemes=[scheme], grouping=grouping or Grouping())
    )


def report(
    it: Intake, title: str, summary: str, published: datetime, now: datetime | None = None
) -> Analysed:
    entry = FeedEntry(guid=title, link=None, title=title, summary_html=summary, published=published)
    return analyse(entry, SOURCE, it, now or published + timedelta(minutes=5))


def group(it: Intake, reports: list[Analysed], now: datetime | None = None) -> list[int]:
    """Assign each report in turn, as ingest does: the incident id of each."""
    c = Clusterer(it.config.grouping)
    out: list[int] = []
    for a in reports:
        at = now or a.published + timedelta(minutes=5)
        c.expire(at)
        iid = c.assign(a.key, a.published, at)
        if iid is None:
            iid = len(c) + 1 + max(out, default=0)
            c.add(Candidate.of(iid, a.key, a.published))
        else:
            c.update(iid, a.key, a.published)
        out.append(iid)
    return out


def run_bundle(grouping: Grouping) -> tuple[list[int], list[dict[str, Any]], list[Analysed]]:
    data = yaml.safe_load(BUNDLE.read_text(encoding="utf-8"))
    it = intake(data["region_words"], grouping)
    reports = [
        {**r, "published": datetime.fromisoformat(r["published"]).astimezone(UTC)} for r in data["reports"]
    ]
    analysed = []
    for r in reports:
        title, _, summary = r["text"].partition(" ")
        analysed.append(report(it, title, summary, r["published"]))
    return group(it, analysed), reports, analysed


# A phone video's caption that names only the city, no day, no site and shares a single word
# with the event ("突发！淮南化工园区闪爆 现场视频曝光"): not enough evidence, it stays apart.
VAGUE = "新浪微博"


def assert_one_incident_per_event(assigned: list[int], reports: list[dict[str, Any]]) -> None:
    by_event: dict[str, set[int]] = {}
    for r, iid in zip(reports, assigned, strict=True):
        if r["site"] != VAGUE or r["event"] != "淮南化工爆炸":
            by_event.setdefault(r["event"], set()).add(iid)
    wrong = {e: ids for e, ids in by_event.items() if len(ids) != 1}
    assert wrong == {}, f"events split over several incidents: {wrong}"
    assert len({i for ids in by_event.values() for i in ids}) == len(by_event) == 7, (
        "two events share an incident"
    )


def test_bundle_groups_each_report_with_its_event() -> None:
    assigned, reports, _ = run_bundle(Grouping())
    assert_one_incident_per_event(assigned, reports)


def test_the_same_city_on_the_same_day_keeps_different_events_apart() -> None:
    assigned, reports, _ = run_bundle(Grouping())
    incident = {r["event"]: iid for r, iid in zip(reports, assigned, strict=True)}
    # three 合肥 events on 21 November: a collapse and two fires in different districts
    assert len({incident["合肥工地坍塌"], incident["合肥包河餐馆火灾"], incident["合肥蜀山住宅火灾"]}) == 3
    # the same 淮南 district a day later, a different kind of accident
    assert incident["淮南潘集硫化氢中毒"] != incident["淮南化工爆炸"]


def test_rising_toll_stays_one_incident_and_its_grade_rises() -> None:
    assigned, _, analysed = run_bundle(Grouping())
    first = [a for a, iid in zip(analysed, assigned, strict=True) if iid == assigned[0]]
    grades = [Figures.highest(a.figures for a in first[: i + 1]) for i in range(len(first))]
    assert len(first) == 9  # the ten reports of the event less the vague video caption
    assert first[0].grade is None  # 伤亡情况正在核实: nothing to grade yet
    assert max(a.grade for a in first if a.grade) == Grade.重大  # 3, then 12, then 15 dead
    assert grades[-1].deaths == 15


def test_without_near_duplicates_the_facts_still_group_the_bundle() -> None:
    assigned, reports, _ = run_bundle(Grouping(near_duplicate_distance=0))
    assert_one_incident_per_event(assigned, reports)


def test_independent_write_ups_of_one_explosion_are_one_incident() -> None:
    # Four outlets, four wordings, one event: named only by province and mine in one of them.
    it = intake(["安徽省"])
    t = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    reports = [
        report(
            it,
            "安徽一煤矿发生爆炸 多人被困",
            "11月21日下午,安徽淮南市凤台县谢桥煤矿井下发生爆炸事故,救援正在进行。",
            t,
        ),
        report(
            it,
            "谢桥煤矿突发事故",
            "淮南凤台县谢桥煤矿21日午后发生燃爆,已造成3人死亡。",
            t + timedelta(hours=1),
        ),
        report(
            it,
            "凤台县一矿井爆炸致死亡人数升至5人",
            "记者从凤台县获悉,谢桥煤矿爆炸事故死亡人数升至5人。",
            t + timedelta(hours=3),
        ),
        report(
            it,
            "突发!淮南一煤矿传出多次爆鸣",
            "据目击者称,谢桥煤矿井口21日下午冒出浓烟,并伴有多次爆鸣,随后起火。",
            t + timedelta(hours=4),
        ),
    ]
    assert len(set(group(it, reports))) == 1


def test_two_sites_in_one_city_on_one_day_are_two_incidents() -> None:
    it = intake(["安徽省"])
    t = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    a = report(
        it, "合肥一居民楼起火", "11月21日下午3时许,合肥市蜀山区翡翠花园小区一居民楼发生火灾,1人受伤。", t
    )
    b = report(
        it,
        "合肥一商场起火",
        "11月21日晚8时许,合肥市蜀山区银泰商场发生火灾,无人员伤亡。",
        t + timedelta(hours=5),
    )
    assert len(set(group(it, [a, b]))) == 2


def test_two_crashes_in_one_city_sharing_only_road_words_are_two_incidents() -> None:
    # One without a day, one dated, in one city: every road report says 方向, 货车, 高速; the motorways differ.
    it = intake(["安徽省"])
    t = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    a = report(it, "突发", "上午十点半,S17蚌合高速合肥方向92公里处发生事故,一辆客车追尾一辆货车,导致20多人受伤。"
               "事故发生在长丰县境内。", t)  # fmt: skip
    b = report(it, "合淮阜高速发生追尾事故致10人死亡", "9日凌晨3时45分,合淮阜高速合肥往淮南方向发生一起大客车与重型"
               "货车追尾事故,事故造成10人死亡。", t + timedelta(hours=2))  # fmt: skip
    assert a.kind == b.kind == "accident"
    assert len(set(group(it, [a, b]))) == 2


def test_a_dateline_is_not_the_place() -> None:
    it = intake(["安徽省"])
    t = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    a = report(
        it,
        "安徽岳西一化工厂爆炸",
        "新华社合肥11月21日电(记者 某某)21日上午,安庆市岳西县一化工厂发生爆炸,2人死亡。",
        t,
    )
    b = report(
        it, "安徽蒙城一化工厂爆炸", "新华社合肥11月21日电 21日上午,亳州市蒙城县一化工厂发生爆炸,1人受伤。", t
    )
    assert a.key.place == gazetteer().resolve("岳西县")[0].code
    assert b.key.place == gazetteer().resolve("蒙城县")[0].code
    assert len(set(group(it, [a, b]))) == 2


def test_a_verdict_or_bulletin_never_joins_an_accident_incident() -> None:
    it = intake(["安徽省"])
    t = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    accident = report(it, "淮南谢桥煤矿爆炸致3人死亡", "11月21日,淮南市凤台县谢桥煤矿发生爆炸,3人死亡。", t)
    verdict = report(
        it, "淮南谢桥煤矿爆炸案一审宣判", "凤台县人民法院对谢桥煤矿爆炸事故案一审宣判,3人获刑。", t
    )
    assert accident.kind == "accident" and verdict.kind == "judicial"
    assert verdict.grade is None and verdict.key.watch
    assert len(set(group(it, [accident, verdict]))) == 2


def test_a_watch_incident_never_takes_an_accident_report() -> None:
    key = ReportKey(fingerprint=1, watch=True, words=frozenset({"谢桥煤矿", "爆炸"}))
    c = Clusterer(Grouping())
    c.add(Candidate.of(1, key, NOW))
    same = ReportKey(fingerprint=1, watch=False, words=frozenset({"谢桥煤矿", "爆炸"}))
    assert c.assign(same, NOW, NOW) is None
    assert c.assign(key, NOW, NOW) == 1


def test_an_incident_leaves_the_pool_after_the_window() -> None:
    key = ReportKey(fingerprint=12345, words=frozenset({"谢桥煤矿", "爆炸", "凤台县", "矿井"}))
    c = Clusterer(Grouping(window=timedelta(hours=72)))
    c.add(Candidate.of(7, key, NOW))
    assert c.assign(key, NOW + timedelta(hours=71), NOW + timedelta(hours=71)) == 7
    assert c.expire(NOW + timedelta(hours=73)) == [7] and 7 not in c
    with pytest.raises(KeyError, match="add\\(\\) it first"):
        c.update(7, key, NOW)


# ---------------------------------------------------------------- fingerprint


def test_fingerprint_is_stable_across_processes_and_signed() -> None:
    text = "安徽淮南一化工企业发生爆炸 淮南市潘集区化工园区内一化工企业21日9时12分许发生爆炸"
    code = f"from responder.clustering import fingerprint; print(fingerprint({text!r}))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert outs == {str(fingerprint(text))}
    fps = [fingerprint(f"{text}{i}号") for i in range(200)] + [fingerprint(str(i)) for i in range(200)]
    assert all(-(2**63) <= f < 2**63 for f in fps)
    assert any(f < 0 for f in fps)  # the top bit is used: stored in a signed BIGINT


def test_a_toll_update_is_a_near_duplicate() -> None:
    a = fingerprint("淮南市潘集区化工企业爆炸事故已造成3人死亡,仍有5人失联,搜救工作仍在进行")
    b = fingerprint("淮南市潘集区化工企业爆炸事故已造成12人死亡,仍有1人失联,搜救工作仍在进行")
    c = fingerprint("合肥市蜀山区某小区一住宅楼发生火灾,消防救援人员迅速到场处置,疏散群众200余人")
    assert hamming(a, b) <= Grouping().near_duplicate_distance < hamming(a, c)
    assert fingerprint("") == 0 and hamming(-1, 0) == 64


@pytest.mark.parametrize("distance", [0, 3, 12, 20])
def test_banded_index_finds_exactly_what_a_scan_finds(distance: int) -> None:
    rng = random.Random(distance)
    index = BandIndex(distance, 1000)
    fps = {i: rng.getrandbits(64) for i in range(1000)}
    for i, fp in fps.items():
        index.add(fp, i)
    for _ in range(120):
        base = fps[rng.randrange(1000)]
        q = base ^ sum(1 << b for b in rng.sample(range(64), rng.randrange(0, distance + 4)))
        expected = {i: hamming(q, fp) for i, fp in fps.items() if hamming(q, fp) <= distance}
        assert index.near(q) == expected


def test_clamp_published() -> None:
    g = Grouping(max_future=timedelta(minutes=10), max_age=timedelta(days=7))
    assert clamp_published(None, NOW, g) == NOW
    assert clamp_published(NOW + timedelta(minutes=9), NOW, g) == NOW + timedelta(minutes=9)
    assert clamp_published(NOW + timedelta(minutes=11), NOW, g) == NOW
    assert clamp_published(NOW - timedelta(days=8), NOW, g) == NOW
    assert clamp_published(NOW - timedelta(days=6), NOW, g) == NOW - timedelta(days=6)
