"""The engine against a real SQLite file: feeds in, incidents, steps and outbox rows out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from kit.enginekit import ROOT, Service, rss, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.models import Incident, IncidentEvent, Report, Step

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def incidents(engine: Engine) -> list[Incident]:
    with Session(engine) as s:
        return list(s.exec(select(Incident).order_by(col(Incident.id))).all())


def steps_of(engine: Engine, iid: int) -> list[Step]:
    with Session(engine) as s:
        return list(s.exec(select(Step).where(Step.incident_id == iid).order_by(col(Step.id))).all())


def log_of(engine: Engine, iid: int) -> list[IncidentEvent]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(IncidentEvent).where(IncidentEvent.incident_id == iid).order_by(col(IncidentEvent.id))
            ).all()
        )


def test_offline_example_end_to_end(sqlite_engine: Engine) -> None:
    svc = Service.start(sqlite_engine, ROOT / "examples/offline/feeds.yaml", NOW)
    svc.step(NOW + timedelta(minutes=5))
    found = incidents(sqlite_engine)
    events = [i for i in found if i.kind == "event"]
    policies = [i for i in found if i.kind == "policy"]
    # The 淮南 explosion is one incident however many sites reposted it, and 重大 by its final toll.
    huainan = [i for i in events if "淮南" in i.title]
    assert len(huainan) == 1 and huainan[0].grade == "重大" and huainan[0].heat >= 3
    assert {"opened", "report_added", "grade_raised"} <= {
        e.kind for e in log_of(sqlite_engine, huainan[0].id)
    }
    # The drill (演练) opened nothing; the unrelated policy item is not an obligation.
    assert not any("演练" in i.title for i in found)
    assert len(policies) == 2 and not any("数字乡村" in p.title for p in policies)
    # The portal already reposted the hazardous-chemicals item: that step is done, with its evidence.
    chem = next(p for p in policies if "危险化学品" in p.title)
    portal = next(s for s in steps_of(sqlite_engine, chem.id) if s.channel == "portal")
    assert portal.done_at is not None and portal.evidence_link and portal.evidence_link.startswith("http")
    assert {s.channel for s in steps_of(sqlite_engine, chem.id) if s.done_at is None} == {
        "weibo",
        "wechat",
        "app",
    }
    # Its card says what is owed, not an accident grade it cannot have.
    assert any(f"【转载】上级政策转载 #{chem.id}" in o.text for o in svc.outbox())
    # A second cycle at the same moment queues nothing new.
    before = len(svc.outbox())
    svc.step(NOW + timedelta(minutes=5))
    assert len(svc.outbox()) == before


def test_rising_toll_raises_grade_and_starts_major_playbook(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    t0 = NOW - timedelta(hours=1)
    first = ("https://news.example/a1", "淮南市潘集区一化工厂发生爆炸", "事故已造成3人死亡,2人受伤。", t0)
    feed_server.route("/news.xml", rss([first]))
    cfg = write_config(tmp_path, f"  - name: 新闻A\n    url: {feed_server.url('/news.xml')}\n")
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(hours=1))
    svc.step(NOW)
    [inc] = incidents(sqlite_engine)
    assert inc.grade == "较大"
    assert {s.playbook for s in steps_of(sqlite_engine, inc.id)} == {"serious-incident"}

    later = (
        "https://news.example/a2",
        "淮南潘集化工厂爆炸事故死亡人数升至12人",
        "截至目前,事故已造成12人遇难。",
        NOW,
    )
    feed_server.route("/news.xml", rss([first, later]))
    svc.step(NOW + timedelta(minutes=6))
    [inc] = incidents(sqlite_engine)
    assert inc.grade == "重大" and inc.deaths == 12
    raised = [e for e in log_of(sqlite_engine, inc.id) if e.kind == "grade_raised"]
    assert [(e.data["from"], e.data["to"]) for e in raised] == [("较大", "重大")]
    major = {s.key: s for s in steps_of(sqlite_engine, inc.id) if s.playbook == "major-incident"}
    # The 5-hour clock still runs from the first report, not from the grade change.
    assert major["statement"].due_at == t0 + timedelta(hours=5)
    assert major["press_conference"].due_at == t0 + timedelta(hours=24)
    texts = [o.text for o in svc.outbox()]
    assert any("较大 升为 重大" in x for x in texts)


def test_earlier_report_moves_the_clock_of_open_steps(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    t0 = NOW - timedelta(minutes=30)
    late = ("https://news.example/b1", "淮南潘集化工厂爆炸事故已致12人死亡", "事故已造成12人死亡。", t0)
    feed_server.route("/news.xml", rss([late]))
    cfg = write_config(tmp_path, f"  - name: 新闻A\n    url: {feed_server.url('/news.xml')}\n")
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=10))
    svc.step(NOW)
    [inc] = incidents(sqlite_engine)
    statement = next(s for s in steps_of(sqlite_engine, inc.id) if s.key == "statement")
    assert statement.due_at == t0 + timedelta(hours=5)

    # A site that had the story two hours earlier is found later: the five hours started then.
    early = (
        "https://news.example/b0",
        "淮南市潘集区化工厂发生爆炸 已致12人死亡",
        "事故已造成12人死亡。",
        t0 - timedelta(hours=2),
    )
    feed_server.route("/news.xml", rss([early, late]))
    svc.step(NOW + timedelta(minutes=6))
    [inc] = incidents(sqlite_engine)
    assert inc.first_published == t0 - timedelta(hours=2)
    statement = next(s for s in steps_of(sqlite_engine, inc.id) if s.key == "statement")
    assert statement.due_at == t0 - timedelta(hours=2) + timedelta(hours=5)
    kinds = [e.kind for e in log_of(sqlite_engine, inc.id)]
    assert "clock_moved" in kinds and "retimed" in kinds


def test_grouper_forgets_what_a_rolled_back_ingest_grouped(db_engine: Engine, tmp_path: Path) -> None:
    from responder.engine.grouper import Grouper
    from responder.engine.ingest import ingest
    from responder.feeds.parse import FeedEntry
    from responder.pipeline import analyse
    from responder.runtime import load_settings

    settings = load_settings(write_config(tmp_path, "  - name: 新闻\n    url: feeds/x.xml\n"))
    grouper = Grouper(settings.feeds.grouping, settings.intake.region_words)
    src = settings.feeds.sources[0]

    def entry(n: int, title: str) -> FeedEntry:
        return FeedEntry(f"https://n.example/{n}", f"https://n.example/{n}", title, "已造成3人死亡。", NOW)

    first = entry(1, "淮南市潘集区一化工厂发生爆炸")
    with Session(db_engine) as s:
        ingest(s, grouper, [analyse(first, src, settings.intake, NOW)], NOW)
        s.rollback()  # e.g. a later statement of the same fetch failed
    grouper.reset()
    for n, title in ((2, "淮南潘集化工厂爆炸致3人死亡"), (3, "淮南市潘集区一化工厂发生爆炸")):
        with Session(db_engine) as s:
            ingest(s, grouper, [analyse(entry(n, title), src, settings.intake, NOW)], NOW)
            s.commit()
    # Had the rolled-back incident stayed a candidate, report 3 (its twin) would have been
    # steered to it and, finding no such row, opened a second incident for the same event.
    assert len(incidents(db_engine)) == 1


def test_bulletins_verdicts_and_disasters_are_watched_without_a_clock(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    t0 = NOW - timedelta(hours=1)
    items = [
        (
            "https://news.example/w1",
            "淮南市潘集区一化工厂发生爆炸",
            "21日上午,潘集区一化工厂发生爆炸,已造成3人死亡。",
            t0,
        ),
        (
            "https://news.example/w2",
            "安徽一季度安全形势平稳",
            "一季度,全省共发生生产安全事故514起、死亡348人,同比下降。",
            t0,
        ),
        (
            "https://news.example/w3",
            "淮南某化工厂爆炸案一审宣判",
            "凤台县人民法院对该厂2019年爆炸致15人死亡一案一审宣判,3人获刑。",
            t0,
        ),
        (
            "https://news.example/w4",
            "强降雨致安徽多地受灾",
            "强降雨已导致死亡10人,直接经济损失六点八三亿元。",
            t0,
        ),
    ]
    feed_server.route("/news.xml", rss(items))
    cfg = write_config(tmp_path, f"  - name: 新闻A\n    url: {feed_server.url('/news.xml')}\n")
    svc = Service.start(sqlite_engine, cfg, t0)
    svc.step(NOW)
    by_kind: dict[str, list[Incident]] = {}
    for inc in incidents(sqlite_engine):
        by_kind.setdefault(inc.kind, []).append(inc)
    [accident] = by_kind["event"]
    assert accident.grade == "较大"  # the bulletin's 348 and the flood's 10 never reach it
    assert {s.playbook for s in steps_of(sqlite_engine, accident.id)} == {"serious-incident"}
    watched = by_kind["watch"]
    assert len(watched) == 3 and all(w.grade is None for w in watched)
    assert all(steps_of(sqlite_engine, w.id) == [] for w in watched)  # no statutory clock
    with Session(sqlite_engine) as s:
        kinds = {r.link: r.kind for r in s.exec(select(Report)).all()}
    assert kinds == {"https://news.example/w1": "accident", "https://news.example/w2": "bulletin",
                     "https://news.example/w3": "judicial", "https://news.example/w4": "disaster"}  # fmt: skip
