"""Load benchmark: one `python main.py run` process under a province's load.

Run: .venv/bin/python bench/bench_load.py                 (SQLite, about 4 minutes)
     .venv/bin/python bench/bench_load.py --db postgresql (a PostgreSQL server started for it)
     .venv/bin/python bench/bench_load.py --db both       (one after the other)

What runs:
- 10,000 feeds (10 ordinary items each, with ETags) on a loopback HTTP server in a child
  process, polled every INTERVAL (60) seconds;
- 50 incidents open with their playbooks running: 较大 accidents (3 deaths) first published
  1–99 minutes ago, so the cycle decides all 50 every second and steps, reminders,
  overdue marks and escalations fall due during the run (their first cards and notices
  are delivered before the run starts: see `preseed`);
- a Bot API emulator (tests/kit/botapi.py) in this process; 20 chat commands a second
  (/status and /list, from 100 people on the roster, each in their private chat, one
  command every 5 s each) injected once the service
  polls for updates;
- PROBES new reports put on random feeds at random moments; each opens an incident whose
  card the emulator receives (poisonings, numbers 80-95 of `incident_report`: no open
  incident of the same city is of a kind they could join).

Printed: CPU seconds (utime+stime from /proc/PID/stat) and peak RSS (VmHWM) of the run
process; the delay from a probe appearing on its feed to its card reaching the emulator
(median and p95); that delay beyond the poll interval (delay - INTERVAL: a report can wait
up to one interval for its feed's next poll), the target's measure; and the time from the
poll that read it (Report.fetched_at) to the card, the service's own processing; the delay
from each command to its answer. Targets (issues 7 and 13): p95 under 2 s beyond the poll
interval, commands answered within 0.5 s at the p95, memory under 300 MB. Exit status 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from kit.botapi import TOKEN  # noqa: E402
from kit.enginekit import Service, rss  # noqa: E402
from kit.feedserver import FeedServer  # noqa: E402
from kit.servicekit import (  # noqa: E402
    DUTY,
    ControlledBotApi,
    ServiceProcess,
    incident_report,
    migrate,
    wait_until,
    write_service_config,
)
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from responder.db import make_engine  # noqa: E402
from responder.engine.drain import drain_outbox  # noqa: E402
from responder.models import Incident, Outbox, Report  # noqa: E402
from responder.senders.telegram import TelegramSender  # noqa: E402

N_FEEDS = 10_000
N_OPEN = 50
PROBES = 16
INTERVAL = 60  # seconds between two polls of one feed
COMMANDS_PER_SECOND = 20
# The commands come from this many people on the roster, each in their private chat with the
# bot: one command every 5 s each, within what Telegram lets a bot answer in one private
# chat (and within the service's own answer share, responder.chat.throttle). 20 commands a
# second into one group chat could not be answered on Telegram (20 messages a minute).
ASKERS = 100
ASKER_BASE = 20_000  # their Telegram ids (and private chat ids)
# Probes appear over this many seconds once the service is warm: 15 a minute, under Telegram's
# 20 messages a minute to one group, which the sender's flood pacing keeps to.
PROBE_WINDOW = 64.0
TARGET_P95_BEYOND = 2.0
TARGET_ANSWER_P95 = 0.5
TARGET_RSS_MB = 300


# --- the feed server in a child process, with routes changed over a pipe ---------------------


def _serve(conn: Any) -> None:
    server = FeedServer().start()
    conn.send(server.port)
    while True:
        msg = conn.recv()
        if msg is None:
            break
        path, body, etag = msg
        server.route(path, body, etag=etag)
        conn.send(True)
    server.stop()


class FeedProcess:
    """FeedServer in another process (its CPU is not the service's nor ours); routes set by message."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self._proc.start()
        self.port = self._conn.recv()
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, body: bytes, etag: str) -> None:
        with self._lock:
            self._conn.send((path, body, etag))
            self._conn.recv()

    def stop(self) -> None:
        self._conn.send(None)
        self._proc.join(timeout=10)


# --- the emulator, noting when each card arrives ------------------------------------------------


class TimedBotApi(ControlledBotApi):
    """Records the wall-clock arrival of every sendMessage (the card's text with it)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, int, str]] = []

    def dispatch(self, method: str, params: dict[str, Any]) -> Any:
        result = super().dispatch(method, params)
        if method.lower() == "sendmessage":
            with self._lock:
                self.arrivals.append((time.time(), int(params.get("chat_id") or 0), str(params.get("text"))))
        return result


# --- measuring the child process -------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid`, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of `pid`, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- one run ---------------------------------------------------------------------------------------


def ordinary_items(i: int, now: datetime) -> list[tuple[str, str, str, datetime]]:
    return [
        (
            f"https://site{i}.example/n/{k}",
            f"站点{i}日常新闻第{k}条",
            "会议召开,部署近期工作。",
            now - timedelta(hours=k + 1),
        )
        for k in range(10)
    ]


def preseed(engine: Engine, cfg: Path, api: TimedBotApi, now: datetime) -> None:
    """The service as it stands after running a while: every feed polled once, the 50
    incidents open with their steps, and their first cards and notices delivered.

    Done in this process with a sender without flood pacing: the run process paces a
    group chat to 20 messages a minute (PTB's AIORateLimiter), so the first burst of 50
    incidents would take minutes and hold the probes' cards back. The load measured is the
    steady state that follows, reminders and escalations included.
    """
    from telegram.ext import ExtBot

    svc = Service.start(engine, cfg, now - timedelta(seconds=INTERVAL + 5))
    svc.step(now)

    async def drain() -> None:
        sender = TelegramSender(ExtBot(TOKEN, base_url=api.base_url))
        try:
            while (await drain_outbox(engine, sender, now, "preseed", batch=200)).claimed:
                pass
        finally:
            await sender.aclose()

    asyncio.run(drain())


def run_once(db: str, workdir: Path, pg_url: str | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    rng = random.Random(7)
    feeds = FeedProcess()
    api = TimedBotApi().start()
    items: dict[int, list[tuple[str, str, str, datetime]]] = {
        i: ordinary_items(i, now) for i in range(N_FEEDS)
    }
    # 50 open 较大 incidents on feeds 0..49, first published over the last 100 minutes.
    for j in range(N_OPEN):
        link, title, text, _ = incident_report(j, now, seed=1)
        items[j].append((link, title, text + "事故已造成3人死亡。", now - timedelta(minutes=2 * j + 1)))
    for i, its in items.items():
        feeds.route(f"/f{i}.xml", rss(its), etag=f'"{i}-0"')
    cfg = write_service_config(
        workdir, [(f"feed{i:04d}", feeds.url(f"/f{i}.xml")) for i in range(N_FEEDS)], interval=f"{INTERVAL}s",
        polling_extra="jitter: 0.1",
    )  # fmt: skip
    roster = workdir / "roster.yaml"
    askers = "".join(
        f"  - {{name: 查询员{k:03d}, telegram_id: {ASKER_BASE + k}, roles: [spokesperson]}}\n"
        for k in range(ASKERS)
    )
    roster.write_text(
        roster.read_text(encoding="utf-8").replace("chats:\n", askers + "chats:\n", 1), encoding="utf-8"
    )
    url = pg_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    migrate(url)
    engine = make_engine(url)
    preseed(engine, cfg, api, now)
    with Session(engine) as s:
        # What the preseed opened (two of the 50 accidents may join another of the same city).
        opened = len(s.exec(select(Incident.id)).all())
    proc = ServiceProcess(
        cfg, url, workdir / f"run-{db}.log", cycle_seconds=1.0, token=TOKEN, telegram_base_url=api.base_url
    )
    stop_commands = threading.Event()
    injected: list[float] = []  # wall-clock time of each command

    def commands() -> None:
        started = time.monotonic()
        while not stop_commands.is_set():
            injected.append(time.time())
            who = ASKER_BASE + len(injected) % ASKERS
            api.inject_message(who, who, "/status" if (len(injected) // ASKERS) % 2 else "/list")
            pause = started + len(injected) / COMMANDS_PER_SECOND - time.monotonic()
            if pause > 0:
                stop_commands.wait(pause)

    probes: dict[str, float] = {}  # probe title -> when it appeared on its feed (wall clock)
    try:
        t0 = time.monotonic()
        proc.wait_running(60)
        cpu_start = cpu_seconds(proc.pid)

        def open_incidents() -> int:
            with Session(engine) as s:
                return len(s.exec(select(Incident.id)).all())

        # Warm: every feed polled once and the 50 incidents opened.
        wait_until(lambda: open_incidents() >= opened, INTERVAL * 3, f"{opened} incidents open")
        wait_until(lambda: "开始接收 Telegram 消息" in proc.log(), 60, "the service to poll Telegram")
        warm = time.monotonic() - t0
        commander = threading.Thread(target=commands, daemon=True)
        commander.start()
        load_started = time.monotonic()
        cpu_load_start = cpu_seconds(proc.pid)
        probe_feeds = rng.sample(range(N_OPEN, N_FEEDS), PROBES)
        moments = sorted(rng.uniform(0, PROBE_WINDOW) for _ in range(PROBES))
        for k, (feed, at) in enumerate(zip(probe_feeds, moments, strict=True)):
            pause = load_started + at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            appeared = datetime.now(UTC)
            # Poisonings (numbers 80–95): no open incident of the same city is of a kind they could join.
            report = incident_report(80 + k, appeared - timedelta(seconds=5), seed=1)
            items[feed].append(report)
            feeds.route(f"/f{feed}.xml", rss(items[feed]), etag=f'"{feed}-{k + 1}"')
            probes[report[1]] = appeared.timestamp()

        def cards_in() -> int:
            texts = [text for _, chat, text in list(api.arrivals) if chat == DUTY]
            return sum(any(title in text for text in texts) for title in probes)

        wait_until(lambda: cards_in() >= PROBES, INTERVAL * 2 + 30, "every probe's card")
        load_seconds = time.monotonic() - load_started
        stop_commands.set()
        commander.join(timeout=5)
        commands_stopped = time.time()
        cpu_load = cpu_seconds(proc.pid) - cpu_load_start
        cpu_total = cpu_seconds(proc.pid) - cpu_start
        peak = peak_rss_mb(proc.pid)
    finally:
        stop_commands.set()
        code = proc.stop(timeout=60)  # PTB answers the commands still queued before it stops
        feeds.stop()
        api.close()

    with Session(engine) as s:
        fetched = {
            r.title: r.fetched_at for r in s.exec(select(Report).where(Report.title.in_(list(probes)))).all()
        }  # type: ignore[attr-defined]
        sent = s.exec(select(Outbox).where(Outbox.status == "sent")).all()
        outbox_left = len(s.exec(select(Outbox.id).where(Outbox.status.in_(("pending", "sending")))).all())  # type: ignore[attr-defined]
    engine.dispose()
    arrival: dict[str, float] = {}
    for at, chat, text in api.arrivals:
        if chat != DUTY:
            continue
        for title in probes:
            if title in text and title not in arrival:
                arrival[title] = at
    total = [arrival[t] - probes[t] for t in probes]
    beyond = [arrival[t] - fetched[t].timestamp() for t in probes]
    # In each asker's chat the answers come in order: the k-th answer there is the k-th command's.
    asked: dict[int, list[float]] = {}
    for n, sent_at in enumerate(injected):
        asked.setdefault(ASKER_BASE + n % ASKERS, []).append(sent_at)
    answers: dict[int, list[float]] = {}
    for at, chat, _ in api.arrivals:
        if chat in asked and at <= commands_stopped:
            answers.setdefault(chat, []).append(at)
    answered = [at for chat in answers for at in answers[chat]]
    answer_delay = [
        at - sent_at for chat, ats in answers.items() for at, sent_at in zip(ats, asked[chat], strict=False)
    ]
    return {
        "db": db,
        "exit": code,
        "warm_s": warm,
        "load_s": load_seconds,
        "cpu_load_s": cpu_load,
        "cpu_total_s": cpu_total,
        "rss_mb": peak,
        "total_median": statistics.median(total),
        "total_p95": pct(total, 0.95),
        "beyond_median": statistics.median(beyond),
        "beyond_p95": pct(beyond, 0.95),
        "commands": len(injected),
        "answers": len(answered),
        "answer_median": statistics.median(answer_delay) if answer_delay else float("nan"),
        "answer_p95": pct(answer_delay, 0.95) if answer_delay else float("nan"),
        "commands_s": commands_stopped - injected[0] if injected else 0.0,
        "sent": len(sent),
        "outbox_left": outbox_left,
        "load": os.getloadavg(),
    }


def report(r: dict[str, Any]) -> None:
    ok_delay = r["total_p95"] - INTERVAL < TARGET_P95_BEYOND
    ok_rss = r["rss_mb"] < TARGET_RSS_MB
    print(f"--- {r['db']}: {N_FEEDS} feeds every {INTERVAL} s, {N_OPEN} open incidents, "
          f"{COMMANDS_PER_SECOND} commands/s, {PROBES} probe reports")  # fmt: skip
    print(
        f"warm-up (all feeds polled, {N_OPEN} incidents open): {r['warm_s']:.1f} s; load phase {r['load_s']:.1f} s"
    )
    print(f"run process CPU: {r['cpu_load_s']:.1f} s in the load phase "
          f"({100 * r['cpu_load_s'] / r['load_s']:.0f}% of one core); {r['cpu_total_s']:.1f} s since start")  # fmt: skip
    print(
        f"run process peak RSS (VmHWM): {r['rss_mb']:.0f} MB   target < {TARGET_RSS_MB} MB: {'ok' if ok_rss else 'MISSED'}"
    )
    print(f"report on feed -> card at Telegram: median {r['total_median']:.2f} s, p95 {r['total_p95']:.2f} s "
          f"(includes waiting for the next poll, interval {INTERVAL} s ±10%)")  # fmt: skip
    print(f"  beyond the poll interval (delay - {INTERVAL} s): median {r['total_median'] - INTERVAL:+.2f} s, "
          f"p95 {r['total_p95'] - INTERVAL:+.2f} s   target p95 < {TARGET_P95_BEYOND} s: {'ok' if ok_delay else 'MISSED'}")  # fmt: skip
    print(f"  after the poll that read it (card received - poll start): median {r['beyond_median']:.2f} s, "
          f"p95 {r['beyond_p95']:.2f} s")  # fmt: skip
    print(f"chat commands (/status, /list): {r['commands']} injected in {r['commands_s']:.0f} s, "
          f"{r['answers']} answered meanwhile ({r['answers'] / max(r['commands_s'], 1):.1f}/s); answer delay "
          f"median {r['answer_median']:.2f} s, p95 {r['answer_p95']:.2f} s   target p95 <= {TARGET_ANSWER_P95} s: "
          f"{'ok' if r['answer_p95'] <= TARGET_ANSWER_P95 else 'MISSED'}")  # fmt: skip
    print(f"outbox: {r['sent']} sent, {r['outbox_left']} left; exit status {r['exit']}; "
          f"load average {r['load'][0]:.2f} / {r['load'][1]:.2f} at the end")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (config, logs)")
    args = parser.parse_args()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    for db in dbs:
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-load-{db}-"))
        pg = None
        pg_url = None
        if db == "postgresql":
            from kit.pg import find_pg_bin, start_pg

            bin_dir = find_pg_bin()
            if bin_dir is None:
                print("--- postgresql: server binaries not installed, skipped")
                continue
            pg = start_pg(bin_dir)
            pg_url = pg.create_database("bench")
        try:
            results.append(run_once(db, tmp, pg_url))
        except AssertionError as exc:
            print(f"--- {db}: FAILED: {exc}; config and log kept in {tmp}")
            return 1
        finally:
            if pg is not None:
                pg.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        report(results[-1])
    ok = all(
        r["total_p95"] - INTERVAL < TARGET_P95_BEYOND
        and r["rss_mb"] < TARGET_RSS_MB
        and r["answer_p95"] <= TARGET_ANSWER_P95
        for r in results
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
