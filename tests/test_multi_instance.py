"""Three `run` processes on one PostgreSQL database share the work without a protocol of their own.

200 feeds on a loopback server, a Bot API emulator, a real PostgreSQL server. Asserted:
every relevant report alerted exactly once; no feed polled more than once per interval;
one getUpdates poller at a time (the emulator answers a second concurrent poller 409);
one process SIGKILLed midway, and the others alert what appears afterwards and take the
Telegram poller over within a minute (lease ttl 45 s, renewed every 15 s).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.botapi import TOKEN
from kit.enginekit import recent, rss
from kit.feedserver import FeedServer
from kit.servicekit import (
    DUTY,
    ControlledBotApi,
    ServiceProcess,
    incident_report,
    migrate,
    outbox_rows,
    wait_until,
    write_service_config,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from responder.db import make_engine
from responder.models import Incident, Lease, Report

FEEDS = 200
INTERVAL = 3.0  # seconds between two polls of one feed
FIRST, LATER = range(0, 20), range(20, 30)  # reports before and after the kill
POLLER = "telegram-poller"


@pytest.fixture
def api() -> Iterator[ControlledBotApi]:
    emulator = ControlledBotApi().start()
    yield emulator
    emulator.close()


def test_three_instances_share_feeds_alerts_and_the_poller_and_survive_losing_one(
    tmp_path: Path, pg_url: str, api: ControlledBotApi
) -> None:
    now = datetime.now(UTC)  # the child processes run on the wall clock
    published = recent(timedelta(minutes=3), now)
    feeds: dict[int, list[tuple[str, str, str, datetime]]] = {i: [] for i in range(FEEDS)}
    for j in FIRST:
        feeds[j].append(incident_report(j, published))
        if j < 10:
            feeds[100 + j].append(incident_report(j, published))  # the same story on a second site
    with FeedServer() as server:
        for i, items in feeds.items():
            server.route(f"/f{i}.xml", rss(items))
        cfg = write_service_config(
            tmp_path,
            [(f"feed{i:03d}", server.url(f"/f{i}.xml")) for i in range(FEEDS)],
            interval=f"{INTERVAL:g}s",
        )
        migrate(pg_url)
        engine = make_engine(pg_url)
        kw = {"cycle_seconds": 1.0, "token": TOKEN, "telegram_base_url": api.base_url}
        procs = [ServiceProcess(cfg, pg_url, tmp_path / f"run{k}.log", **kw) for k in range(3)]
        started = time.monotonic()
        try:
            for p in procs:
                p.wait_running()

            def cards() -> list[str]:
                return api.chat_html(DUTY)

            wait_until(lambda: len(cards()) >= len(FIRST), 60, f"{len(FIRST)} cards in the duty chat")
            # Kill at a quiet moment (nothing claimed for sending): the message on the wire at
            # a kill may arrive twice by design; tests/test_faults.py covers that case.
            wait_until(
                lambda: all(r.status == "sent" for r in outbox_rows(engine)), 30, "the outbox to be drained"
            )

            def holder() -> str | None:
                with Session(engine) as s:
                    lease = s.get(Lease, POLLER)
                    return lease.holder if lease else None

            wait_until(lambda: holder() is not None, 30, "a poller lease holder")
            pollers = [p for p in procs if "开始接收 Telegram 消息" in p.log()]
            assert [p.instance for p in pollers] == [holder()], "exactly one instance polls Telegram"

            # Midway: the poller dies without a word.
            victim = pollers[0]
            victim.kill()
            killed = time.monotonic()
            killed_wall = datetime.now(UTC)
            rest = [p for p in procs if p is not victim]
            for j in LATER:
                feeds[150 + j].append(incident_report(j, recent(timedelta(minutes=1))))
                server.route(f"/f{150 + j}.xml", rss(feeds[150 + j]))
            # A feed the dead process had claimed is free again when its claim (45 s) runs out.
            wait_until(
                lambda: len(cards()) >= len(FIRST) + len(LATER),
                90,
                "the cards of the reports added after the kill",
            )
            wait_until(
                lambda: (
                    holder() in {p.instance for p in rest}
                    and any("开始接收 Telegram 消息" in p.log() for p in rest)
                ),
                70 - (time.monotonic() - killed),
                "another instance to take the Telegram poller over within a minute",
            )
            took_over = time.monotonic() - killed
            conflicts = [r for r in api.calls("getUpdates") if r.status == 409]
            elapsed = time.monotonic() - started
            hits = {i: server.stats(f"/f{i}.xml").hits for i in range(FEEDS)}
        finally:
            codes = [p.stop() if p.alive() else None for p in procs]
            for p in procs:
                if p.alive():
                    p.kill()
        assert [c for p, c in zip(procs, codes, strict=True) if p is not victim] == [0, 0]

    # Every relevant report alerted exactly once: one card per incident, none delivered twice.
    delivered = Counter(api.chat_html(DUTY))
    rows = [r for r in outbox_rows(engine) if r.chat_id == DUTY]
    with Session(engine) as s:
        n_incidents = len(s.exec(select(Incident)).all())
    assert n_incidents == len(FIRST) + len(LATER)
    assert len(rows) == n_incidents and all(r.status == "sent" for r in rows)
    assert set(delivered) == {r.text for r in rows}
    assert max(delivered.values()) == 1, _story(engine, victim, killed_wall, procs)
    # One poller at a time: no getUpdates was ever cut short by a second poller.
    assert conflicts == [], f"{len(conflicts)} getUpdates answered 409 Conflict"
    assert took_over <= 60.0 + 5.0, f"poller taken over after {took_over:.0f} s"
    # Each feed polled at most once per interval by the three together (1 poll more for the
    # first one), and every feed polled regularly (the dead instance's claims only pause a few).
    ceiling = int(elapsed / INTERVAL) + 1
    assert max(hits.values()) <= ceiling, f"a feed was polled {max(hits.values())} times in {elapsed:.0f} s"
    regular = sorted(hits.values())[FEEDS // 2]
    assert regular >= elapsed / (INTERVAL + 3) - 2, f"median feed polled {regular} times in {elapsed:.0f} s"
    for p in procs:
        assert not [e for e in p.errors() if "Conflict" not in e], p.log()[-3000:]


def _story(engine: Engine, victim: ServiceProcess, killed: datetime, procs: list[ServiceProcess]) -> str:
    """What happened, for the failure message: incidents, reports, outbox rows, the logs."""
    lines = [f"killed {victim.instance} at {killed.isoformat()}"]
    with Session(engine) as s:
        lines += [
            f"incident {i.id}: {i.title[:12]} detected {i.detected_at}" for i in s.exec(select(Incident))
        ]
        lines += [
            f"report {r.id}: {r.identity} {r.source} -> {r.incident_id} at {r.fetched_at}"
            for r in s.exec(select(Report))
        ]
    lines += [
        f"outbox {r.id}: {r.dedup_key} {r.status} tries {r.attempts} sent {r.sent_at}"
        for r in outbox_rows(engine)
    ]
    for p in procs:
        lines += [f"--- {p.instance}", p.log()[-4000:]]
    return "\n".join(lines)
