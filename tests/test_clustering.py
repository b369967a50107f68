"""Grouping: one event is one incident, however many sites repost it and however they title it."""

from __future__ import annotations

import random
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from responder.clustering import (
    Candidate,
    Clusterer,
    clamp_published,
    extract_accident_type,
    extract_place,
    extract_places,
    fingerprint,
    hamming,
)
from responder.config import Grouping
from responder.grading import Figures, Grade, extract_figures, grade_for

BUNDLE = Path(__file__).parent / "data" / "grouping_bundle.yaml"
NOW = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)


def normalised(text: str) -> str:
    # What intake's normalisation does to these (already simplified) texts.
    return " ".join(unicodedata.normalize("NFKC", text).split())


def load_bundle() -> tuple[list[str], list[dict[str, Any]]]:
    data = yaml.safe_load(BUNDLE.read_text(encoding="utf-8"))
    reports = []
    for r in data["reports"]:
        published = datetime.fromisoformat(r["published"]).astimezone(UTC)
        reports.append({**r, "text": normalised(r["text"]), "published": published})
    return data["region_words"], reports


def run_bundle(grouping: Grouping) -> tuple[list[int], list[dict[str, Any]], Clusterer]:
    """Feed the bundle in order, as intake would: returns the incident id of each report."""
    region_words, reports = load_bundle()
    clusterer = Clusterer(grouping, region_words)
    assigned: list[int] = []
    next_id = 1
    for r in reports:
        now = r["published"] + timedelta(minutes=5)  # detected a few minutes after publication
        clusterer.expire(now)
        key = clusterer.key_of(r["text"])
        fp, place, places, kind = key.fingerprint, key.place, key.places, key.accident_type
        iid = clusterer.assign(fp, place, kind, r["published"], now, places=places)
        if iid is None:
            iid, next_id = next_id, next_id + 1
            clusterer.add(
                Candidate(iid, fp, place, kind, r["published"], r["published"], places=frozenset(places))
            )
        else:
            clusterer.update(iid, fingerprint=fp, published=r["published"], place=place, places=places)
        assigned.append(iid)
    return assigned, reports, clusterer


def assert_one_incident_per_event(assigned: list[int], reports: list[dict[str, Any]]) -> None:
    by_event: dict[str, set[int]] = {}
    for r, iid in zip(reports, assigned, strict=True):
        by_event.setdefault(r["event"], set()).add(iid)
    wrong = {e: ids for e, ids in by_event.items() if len(ids) != 1}
    assert wrong == {}, f"events split over several incidents: {wrong}"
    assert len(set(assigned)) == len(by_event) == 7, "two events share an incident"


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
    assigned, reports, _ = run_bundle(Grouping())
    first = assigned[0]
    texts = [r["text"] for r, iid in zip(reports, assigned, strict=True) if iid == first]
    grades = [
        grade_for(Figures.highest(extract_figures(t) for t in texts[: i + 1])) for i in range(len(texts))
    ]
    assert len(texts) == 10
    assert grades[0] is None  # 伤亡情况正在核实: nothing to grade yet
    assert Grade.较大 in grades  # 3 deaths
    assert grades[-1] == Grade.重大  # 12, then 15
    assert Figures.highest(extract_figures(t) for t in texts).deaths == 15


def test_place_and_type_alone_still_group_the_bundle() -> None:
    # with near-duplicates off, the re-titled reposts are still joined by place + type
    assigned, reports, _ = run_bundle(Grouping(near_duplicate_distance=0))
    assert_one_incident_per_event(assigned, reports)


def test_retitled_reposts_are_near_duplicates_of_their_originals() -> None:
    # with the place + type rule off, only near-duplicate text joins
    assigned, reports, _ = run_bundle(Grouping(same_place_type_window=timedelta(0)))
    originals = {"网易新闻": "澎湃新闻", "凤凰网": "央视新闻", "腾讯新闻": "新华网"}
    for repost, original in originals.items():
        r = next(x for x in reports if x["site"] == repost)
        o = next(x for x in reports if x["site"] == original and x["event"] == r["event"])
        assert assigned[reports.index(r)] == assigned[reports.index(o)]


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


# ---------------------------------------------------------------- place and type

REGION = [
    "安徽",
    "安徽省",
    "合肥",
    "合肥市",
    "淮南",
    "淮南市",
    "潘集区",
    "凤台县",
    "蜀山区",
    "包河区",
    "芜湖",
]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("安徽省淮南市潘集区一化工企业发生爆炸", "潘集区"),
        ("淮南一化工厂爆炸 潘集区应急管理局通报", "潘集区"),  # a district beats its city
        ("安徽淮南一化工厂爆炸", "淮南"),  # a city beats the province
        ("安徽一化工厂爆炸", "安徽"),
        ("淮南市一化工厂爆炸,芜湖消防支援", "淮南市"),  # equal rank: the first mention (the title)
        ("江苏一化工厂爆炸", None),
    ],
)
def test_extract_place(text: str, place: str | None) -> None:
    assert extract_place(text, REGION) == place


def test_extract_places_lists_every_region_word_most_specific_first() -> None:
    assert extract_places("安徽省淮南市潘集区一企业爆炸,淮南市应急局", REGION) == [
        "潘集区",
        "淮南市",
        "安徽省",
    ]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("化工厂发生爆炸", "爆炸"),
        ("化工园区闪爆", "爆炸"),
        ("煤矿发生瓦斯爆炸", "爆炸"),  # reposts often drop 瓦斯: keep them together
        ("煤矿瓦斯突出", "瓦斯"),
        ("仓库爆炸后起火", "爆炸"),  # the graver word wins over its consequence
        ("一小区住宅楼起火", "火灾"),
        ("居民楼着火", "火灾"),
        ("煤矿发生透水事故", "透水"),
        ("工地脚手架倒塌", "坍塌"),
        ("隧道塌方", "坍塌"),
        ("化工厂液氯泄漏", "泄漏"),
        ("污水池作业3人中毒窒息", "中毒窒息"),
        ("硫化氢泄漏致3人中毒", "中毒窒息"),
        ("井下发生冒顶", "冒顶"),
        ("工人检修时触电身亡", "触电"),
        ("工人从脚手架坠落", "坠落"),
        ("高速多车追尾", "交通"),
        ("安全生产大检查", None),
    ],
)
def test_extract_accident_type(text: str, kind: str | None) -> None:
    assert extract_accident_type(text) == kind


# ---------------------------------------------------------------- the clusterer's rules


def cand(
    iid: int, fp: int, place: str | None = "潘集区", kind: str | None = "爆炸", at: datetime = NOW
) -> Candidate:
    return Candidate(iid, fp, place, kind, at, at)


def test_near_duplicate_joins_within_the_window_only() -> None:
    g = Grouping(window=timedelta(hours=72), near_duplicate_distance=12)
    c = Clusterer(g)
    c.add(cand(1, 0b1011, place=None, kind=None))
    assert c.assign(0b1010, None, None, NOW, NOW + timedelta(hours=72)) == 1
    assert c.assign(0b1010, None, None, NOW, NOW + timedelta(hours=72, seconds=1)) is None
    assert c.expire(NOW + timedelta(hours=73)) == [1] and len(c) == 0


def test_the_closest_fingerprint_wins_then_the_most_recent() -> None:
    c = Clusterer(Grouping())
    c.add(cand(1, 0xFF, place=None, kind=None))
    c.add(cand(2, 0xF0, place=None, kind=None))
    c.add(cand(3, 0xF0, place=None, kind=None, at=NOW + timedelta(minutes=1)))
    m = c.match(0xF1, None, None, NOW, NOW + timedelta(hours=1))
    assert m is not None and (m.incident_id, m.reason, m.distance) == (3, "near_duplicate", 1)


def test_same_place_and_type_joins_within_its_window_of_the_span() -> None:
    g = Grouping(same_place_type_window=timedelta(hours=24))
    c = Clusterer(g)
    far = (1 << 64) - 1  # fingerprints as far apart as they get
    c.add(Candidate(1, 0, "潘集区", "爆炸", NOW, NOW + timedelta(hours=10)))
    later = NOW + timedelta(hours=34)
    m = c.match(far, "潘集区", "爆炸", later, later)
    assert m is not None and (m.incident_id, m.reason) == (1, "same_place_type")
    assert c.assign(far, "潘集区", "爆炸", later + timedelta(seconds=1), later) is None
    assert c.assign(far, "潘集区", "火灾", later, later) is None  # another kind of accident
    assert c.assign(far, "凤台县", "爆炸", later, later) is None  # another county
    assert c.assign(far, None, "爆炸", later, later) is None  # nowhere known
    assert c.assign(far, "安徽", "爆炸", later, later, places=["安徽省"]) is None  # a province says nothing


def test_city_matches_its_district_but_districts_do_not_match_each_other() -> None:
    c = Clusterer(Grouping())
    c.add(Candidate(1, 0, "包河区", "火灾", NOW, NOW, places=frozenset({"合肥", "包河区"})))
    far = (1 << 63) - 1
    assert c.assign(far, "合肥", "火灾", NOW, NOW) == 1
    assert c.assign(far, "蜀山区", "火灾", NOW, NOW, places=["合肥"]) is None
    # a candidate known only by its city takes a report that names city and district
    c.add(Candidate(2, 0, "淮南", "爆炸", NOW, NOW))
    assert c.assign(far, "潘集区", "爆炸", NOW, NOW, places=["淮南"]) == 2


def test_update_makes_a_report_searchable_and_remove_forgets() -> None:
    c = Clusterer(Grouping(near_duplicate_distance=3))
    c.add(cand(1, 0))
    assert c.assign(0xFF00, None, None, NOW, NOW) is None
    updated = c.update(1, fingerprint=0xFF00, published=NOW + timedelta(hours=2))
    assert updated.last_report_at == NOW + timedelta(hours=2) and updated.first_published == NOW
    assert c.assign(0xFF01, None, None, NOW, NOW) == 1
    c.remove(1)
    assert c.assign(0xFF01, None, None, NOW, NOW) is None and 1 not in c
    with pytest.raises(KeyError, match="add\\(\\) it first"):
        c.update(1, fingerprint=1)


@pytest.mark.parametrize("distance", [0, 3, 12, 20, 40])
def test_banded_index_finds_exactly_what_a_scan_finds(distance: int) -> None:
    rng = random.Random(distance)
    c = Clusterer(Grouping(near_duplicate_distance=distance), expected=1000)
    fps = {i: rng.getrandbits(64) for i in range(1000)}
    for i, fp in fps.items():
        c.add(cand(i, fp, place=None, kind=None))
    for _ in range(120):
        base = fps[rng.randrange(1000)]
        flips = rng.sample(range(64), rng.randrange(0, distance + 4))
        q = base ^ sum(1 << b for b in flips)
        m = c.match(q, None, None, NOW, NOW)
        best = min((hamming(q, fp), i) for i, fp in fps.items())
        if best[0] <= distance:
            assert m is not None and m.distance == best[0]
        else:
            assert m is None


def test_clamp_published() -> None:
    g = Grouping(max_future=timedelta(minutes=10), max_age=timedelta(days=7))
    assert clamp_published(None, NOW, g) == NOW
    assert clamp_published(NOW + timedelta(minutes=9), NOW, g) == NOW + timedelta(minutes=9)
    assert clamp_published(NOW + timedelta(minutes=11), NOW, g) == NOW
    assert clamp_published(NOW - timedelta(days=8), NOW, g) == NOW
    assert clamp_published(NOW - timedelta(days=6), NOW, g) == NOW - timedelta(days=6)
