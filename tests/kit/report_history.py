"""A known history of incidents, steps, log events and feed outages, written to a real SQLite file.

Shared by the weekly-summary, annual-figure and chart tests. Times are written in
Asia/Shanghai wall-clock time (`L(...)`) and stored in UTC, as the engine stores them.

The weeks (Asia/Shanghai):
- 2026-W46: Mon 11-09 .. Sun 11-15; 2026-W47: Mon 11-16 .. Sun 11-22 (the week under test);
- 2026-W40 (10-01..10-04 National Day) and 2026-W41 (10-05..10-07 off, 10-10 a make-up
  workday): the holiday weeks;
- 2025-12-31 / 2026-01-01: the year boundary, which in UTC lies 8 hours earlier.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from responder.db import make_engine
from responder.models import FeedOutage, Incident, IncidentEvent, Step

SH = ZoneInfo("Asia/Shanghai")
# Monday 2026-11-23 09:00 in Shanghai: when the W47 summary is posted.
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def L(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=SH).astimezone(UTC)


class History:
    """Writes rows the way the engine does: an incident with its 'opened' event, steps, log events."""

    def __init__(self, session: Session):
        self.s = session

    def incident(
        self,
        title: str,
        detected: datetime,
        published: datetime | None = None,
        kind: str = "event",
        grade: str | None = None,
        status: str = "open",
    ) -> Incident:
        inc = Incident(
            kind=kind, title=title, grade=grade, status=status,
            first_published=published or detected, detected_at=detected, last_report_at=detected,
        )  # fmt: skip
        self.s.add(inc)
        self.s.flush()
        self.event(inc, "opened", detected)
        if status == "dismissed":
            self.event(inc, "dismissed", detected, data={"reason": "演练,非真实事故"})
        return inc

    def event(self, inc: Incident, kind: str, at: datetime, **kw: Any) -> IncidentEvent:
        assert inc.id is not None
        ev = IncidentEvent(incident_id=inc.id, kind=kind, at=at, **kw)
        self.s.add(ev)
        return ev

    def step(
        self,
        inc: Incident,
        key: str,
        started: datetime,
        due: datetime,
        done: datetime | None = None,
        *,
        target: datetime | None = None,
        channel: str = "",
        seq: int = 0,
        by: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Step:
        assert inc.id is not None
        step = Step(
            incident_id=inc.id, playbook="test", key=key, channel=channel, seq=seq, title=key,
            started_at=started, target_at=target, due_at=due, done_at=done, done_by=by,
            evidence_link="https://example.gov.cn/x" if done else None,
            breached_at=due if (done is None or done > due) else None,
        )  # fmt: skip
        self.s.add(step)
        self.s.flush()
        if done is not None:
            payload = {"evidence_link": step.evidence_link, "late": done > due, "channel": channel or None}
            payload.update(data or {})
            self.event(inc, "step_done", done, step_id=step.id, actor_name=by, data=payload)
        return step

    def ack(self, inc: Incident, at: datetime, level: int, name: str) -> None:
        self.event(
            inc, "acknowledged", at, actor_id=1000 + level, actor_name=name, chat_id=-1, data={"level": level}
        )

    def escalate(self, inc: Incident, at: datetime, level: int, to: list[str]) -> None:
        self.event(inc, "escalated", at, data={"level": level, "reason": "unacknowledged", "to": to})

    def outage(self, source: str, start: datetime, end: datetime | None, error: str) -> None:
        self.s.add(FeedOutage(source=source, started_at=start, ended_at=end, error=error))


def build(path: Path) -> Engine:
    """Create the SQLite file at `path` by the migrations (as `migrate` does, so the report
    commands accept it) and write the known history into it."""
    from responder.migrate import upgrade

    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    fill(engine)
    return engine


def fill(engine: Engine) -> None:
    """Write the known history into an empty database with the schema in place."""
    with Session(engine) as s:
        h = History(s)

        # ---- 2026-W46 (previous week) -------------------------------------------------
        i = h.incident("某化工厂爆炸", L(11, 10, 8), L(11, 10, 8), grade="重大")
        h.ack(i, L(11, 10, 8, 15), 0, "张三")  # 15 min
        h.step(i, "statement", L(11, 10, 8), L(11, 10, 13), L(11, 10, 12), by="张三")  # on time, 4h
        h.step(i, "press_conference", L(11, 10, 8), L(11, 11, 8), L(11, 11, 7), by="王局长",
               data={"attended_by_head": True})  # fmt: skip  # on time, 23h
        g = h.incident("某矿透水", L(11, 15, 20), L(11, 15, 19), grade="较大")
        h.ack(g, L(11, 15, 20, 30), 0, "张三")  # 30 min
        # Due exactly at W47's first instant: it belongs to W47, not W46.
        h.step(g, "flash", L(11, 15, 19), L(11, 16, 0), L(11, 15, 23), by="张三",
               data={"outlets": ["portal", "weibo"]})  # fmt: skip  # on time, 4h; on the portal and Weibo
        h.outage("省政府门户", L(11, 14, 10), L(11, 16, 2), "HTTP 503")  # 38h in W46, 2h in W47
        h.outage("人民网", L(11, 10, 0), L(11, 11, 0), "timeout")  # W46 only

        # ---- 2026-W47 (the week under test) -------------------------------------------
        a = h.incident("某仓库火灾", L(11, 17, 10), L(11, 17, 9, 30), grade="重大")
        h.ack(a, L(11, 17, 10, 5), 0, "张三")  # 5 min, level 0
        h.step(a, "statement", L(11, 17, 9, 30), L(11, 17, 14, 30), L(11, 17, 12, 30), by="张三",
               channel="", data={"channel": "wechat"})  # fmt: skip  # on time, 3h, published on WeChat
        h.step(a, "press_conference", L(11, 17, 9, 30), L(11, 18, 9, 30), L(11, 18, 11, 30), by="王局长",
               data={"attended_by_head": True})  # fmt: skip  # late by 2h, 26h
        h.step(a, "updates", L(11, 17, 12, 30), L(11, 17, 21, 30), L(11, 17, 20), seq=1, by="张三")  # 7h30m

        b = h.incident("某隧道坍塌", L(11, 19, 8), L(11, 19, 7), grade="特别重大")
        h.escalate(b, L(11, 19, 8, 30), 1, ["李科长"])
        h.escalate(b, L(11, 19, 10), 2, ["王局长"])
        h.ack(b, L(11, 19, 11), 2, "王局长")  # 3h after detection, at level 2
        h.step(b, "statement", L(11, 19, 7), L(11, 19, 12))  # never done: overdue
        h.step(b, "press_conference", L(11, 19, 7), L(11, 20, 7), L(11, 19, 20), by="王局长")  # on time, 13h
        # An update due after `now` (in W48): open, not overdue.
        h.step(b, "updates", L(11, 19, 20), L(11, 23, 12), seq=1)

        c = h.incident("某工地脚手架坍塌", L(11, 20, 15), L(11, 20, 14), grade="较大")
        h.escalate(c, L(11, 20, 17), 1, ["李科长", "赵主任"])
        h.ack(c, L(11, 20, 17, 30), 1, "李科长")  # 2h30m, level 1
        h.step(c, "flash", L(11, 20, 14), L(11, 21, 0), L(11, 20, 18), by="李科长", channel="",
               data={"channel": "weibo"})  # fmt: skip  # on time, 4h, on Weibo
        h.step(c, "publish_info", L(11, 20, 14), L(11, 20, 19), L(11, 20, 20), by="李科长",
               data={"channel": "portal"})  # fmt: skip  # late by 1h, 6h
        # An escalation after the deadline does not change who held it at the deadline.
        h.escalate(c, L(11, 20, 21), 2, ["王局长"])

        d = h.incident("某企业一人高处坠落", L(11, 21, 9), grade="一般")
        h.ack(d, L(11, 21, 9, 20), 0, "张三")  # 20 min

        e = h.incident("某餐馆燃气爆炸", L(11, 22, 20), L(11, 22, 19), grade="较大")  # never acknowledged
        # Due at W47's end instant (next Monday 00:00): it belongs to W48.
        h.step(e, "flash", L(11, 22, 19), L(11, 23, 0))

        f = h.incident("某地应急演练", L(11, 18, 12), grade="重大", status="dismissed")
        h.ack(f, L(11, 18, 12, 10), 0, "张三")
        h.step(f, "statement", L(11, 18, 12), L(11, 18, 17))  # a false alarm: counts nowhere
        h.step(f, "press_conference", L(11, 18, 12), L(11, 19, 12), L(11, 18, 15), by="张三")

        p = h.incident("国务院办公厅关于安全生产的通知", L(11, 16, 10), L(11, 16, 9, 50), kind="policy")
        h.ack(p, L(11, 16, 10, 10), 0, "张三")  # 10 min
        t0, tgt, due = L(11, 16, 9, 50), L(11, 16, 10, 50), L(11, 17, 9, 50)
        h.step(
            p, "repost", t0, due, L(11, 16, 10, 30), target=tgt, channel="portal", by="张三"
        )  # both on time, 40m
        h.step(
            p, "repost", t0, due, L(11, 16, 11, 50), target=tgt, channel="weibo", by="张三"
        )  # aim missed, 2h
        h.step(
            p, "repost", t0, due, L(11, 17, 15), target=tgt, channel="wechat", by="李四"
        )  # both late, 29h10m
        h.step(p, "repost", t0, due, None, target=tgt, channel="app")  # never done: both overdue

        h.outage("新华网", L(11, 18, 8), L(11, 18, 9, 30), "timeout")  # 1h30m
        h.outage("新华网", L(11, 20, 22), None, "HTTP 404")  # still down: 50h to the week's end
        # Two overlapping rows of one source (say, two instances polling): 10:00-16:00 once, 6h.
        h.outage("应急管理部", L(11, 17, 10), L(11, 17, 14), "timeout")
        h.outage("应急管理部", L(11, 17, 12), L(11, 17, 16), "timeout")

        # ---- holiday weeks 2026-W40 / W41 ---------------------------------------------
        q = h.incident("省政府关于国庆假期安全防范的通知", L(9, 30, 10, 5), L(9, 30, 10), kind="policy")
        # 1 working day after Wed 09-30 is Thu 10-08 (10-01..10-07 are off), until 24:00.
        h.step(q, "repost", L(9, 30, 10), L(10, 9, 0), L(10, 8, 9), target=L(9, 30, 11), channel="portal",
               by="张三")  # fmt: skip

        # ---- year boundary (annual figures) ---------------------------------------------
        j = h.incident("跨年夜某烟花爆竹店爆炸", L(12, 31, 22, year=2025), grade="较大")
        h.step(
            j, "flash", L(12, 31, 22, year=2025), L(1, 1, 0), L(12, 31, 23, 30, year=2025), by="张三"
        )  # 2025
        k = h.incident("元旦凌晨某商场火灾", L(12, 31, 23, year=2025), grade="重大")
        # Done at 00:30 on 1 January in Shanghai, still 31 December in UTC: a 2026 response.
        h.step(k, "statement", L(12, 31, 23, year=2025), L(1, 1, 4), L(1, 1, 0, 30), by="张三")
        s.commit()
