"""Chaos benchmark: the failures other systems' users report, reproduced against `run` processes.

Run: .venv/bin/python bench/bench_chaos.py            (all six, about 4 minutes)
     .venv/bin/python bench/bench_chaos.py --only flood,clock

Each scenario runs the real `python main.py run` (tests/kit/servicekit.py), the real
python-telegram-bot against the Bot API emulator (tests/kit/botapi.py), feeds on a loopback
HTTP server and, where instances share a database, a real PostgreSQL server
(tests/kit/pg.py). Where business time must pass quickly (escalation timeouts, a lease, a
10-minute flood), the processes read a test clock (`RESPONDER_TEST_CLOCK`,
`responder.clock.FileClock`) that runs RATE times as fast as real time or jumps.

| scenario | anchor (what users of another system report) |
|---|---|
| restart | Grafana OnCall #1206: the escalation never continued after a restart |
| kill | Alertmanager #1005, #2222, #4008: HA peers send the same notification twice |
| flood | RSS-to-Telegram-Bot #122: under persistent flood control most posts are never sent |
| crossfeed | miniflux #797: the same article from several feeds is stored and shown once per feed |
| clock | (issue 15) a clock 2 days ahead marked breaches and escalated to the head |
| disk | (issue 15) a full disk gave one traceback per cycle |

Printed per scenario: messages lost (expected but never delivered, or left unsent in the
outbox), messages delivered twice (the same text twice in one chat), and what else was
checked. Target: 0 lost everywhere; duplicates only the one message in flight at a kill.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from kit.botapi import TOKEN, Fault  # noqa: E402
from kit.enginekit import rss  # noqa: E402
from kit.feedserver import FeedServer  # noqa: E402
from kit.pg import PgServer, find_pg_bin, start_pg  # noqa: E402
from kit.servicekit import (  # noqa: E402
    ADMIN,
    DUTY,
    ControlledBotApi,
    ServiceProcess,
    incident_report,
    migrate,
    outbox_rows,
    wait_until,
    write_service_config,
)
from sqlmodel import Session, select  # noqa: E402

from responder.clock import write_test_clock  # noqa: E402
from responder.db import make_engine  # noqa: E402
from responder.models import Incident  # noqa: E402

OFFICE, HEAD = -200, 1003
T0 = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@dataclass
class Result:
    """What one scenario found."""

    name: str
    anchor: str
    lost: int
    duplicates: int
    allowed_duplicates: int
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicates <= self.allowed_duplicates and all(self.checks.values())


class TestClock:
    """The bench's side of the processes' test clock: stopped at `start` until the first process
    runs (`go`), then `rate` times real time; it can be jumped."""

    def __init__(self, path: Path, start: datetime, rate: float) -> None:
        self.path, self.rate, self.jump, self.run_rate = path, 0.0, timedelta(0), rate
        self._wall, self._steady, self._at = start, 0.0, time.monotonic()
        self._write()

    def go(self) -> None:
        if self.rate == 0:
            self.set(rate=self.run_rate)

    def _write(self) -> None:
        write_test_clock(self.path, self._wall, steady=self._steady, rate=self.rate, jump=self.jump)

    def _advance(self) -> None:
        now = time.monotonic()
        elapsed = (now - self._at) * self.rate
        self._wall += timedelta(seconds=elapsed)
        self._steady += elapsed
        self._at = now

    def now(self) -> datetime:
        """The wall clock the processes read (jump included)."""
        self._advance()
        return self._wall + self.jump

    def set(self, *, rate: float | None = None, jump: timedelta | None = None) -> None:
        self._advance()
        self.rate = self.rate if rate is None else rate
        self.jump = self.jump if jump is None else jump
        self._write()


def serious_report(i: int, published: datetime) -> tuple[str, str, str, datetime]:
    """A 较大 accident (3 dead): the serious-incident playbook's clocks and escalation apply."""
    city = ["合肥", "芜湖", "淮南"][i]
    return (
        f"https://news.example/chaos/{i}",
        f"{city}市一化工厂发生爆炸事故造成3人死亡",
        f"{city}消息：某化工厂车间发生爆炸，3人死亡，原因正在调查。",
        published,
    )


def sent(api: ControlledBotApi) -> list[tuple[int, str]]:
    """Every message the emulator accepted, as (chat, HTML as submitted), in arrival order;
    later edits of a card do not change what is counted here."""
    out = []
    for method in ("sendMessage", "sendPhoto"):
        for call in api.calls(method):
            if call.status == 200:
                text = str(call.params.get("text") or call.params.get("caption") or "")
                out.append((int(call.params["chat_id"]), text))
    return out


def duplicates(api: ControlledBotApi) -> int:
    """Messages whose exact text arrived twice or more in the same chat (extra copies)."""
    return sum(n - 1 for n in Counter(sent(api)).values() if n > 1)


def unsent(url: str) -> int:
    engine = make_engine(url)
    try:
        return sum(1 for r in outbox_rows(engine) if r.status != "sent")
    finally:
        engine.dispose()


def level_cards(api: ControlledBotApi, level: int) -> dict[int, int]:
    """Per chat, how many escalation cards of `level` arrived."""
    head = f"⬆️ 升级至第{level}级"
    found = Counter(chat for chat, text in sent(api) if text.startswith(head))
    return dict(found)


def cards(api: ControlledBotApi, titles: list[str], chat: int = DUTY) -> dict[str, int]:
    """How many incident cards in `chat` name each title."""
    texts = [text for c, text in sent(api) if c == chat and "🚨" in text]
    return {t: sum(1 for x in texts if t in x) for t in titles}


class Bench:
    """Shared parts: the emulator, the feed server, a PostgreSQL server, a scratch folder."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.feeds = FeedServer().start()
        self.pg: PgServer | None = None

    def pg_url(self) -> str:
        if self.pg is None:
            bin_dir = find_pg_bin()
            if bin_dir is None:
                raise SystemExit("PostgreSQL binaries not found (apt-get install postgresql)")
            self.pg = start_pg(bin_dir)
        return self.pg.create_database()

    def sqlite_url(self, name: str) -> str:
        return f"sqlite:///{self.work / name / 'responder.sqlite3'}"

    def start(
        self,
        name: str,
        url: str,
        api: ControlledBotApi,
        clock: TestClock,
        sources: list[tuple[str, str]],
        **kw: str,
    ) -> Callable[[str], ServiceProcess]:
        """Write the scenario's config; returns a function starting one `run` process on it."""
        folder = self.work / name
        folder.mkdir(parents=True, exist_ok=True)
        cfg = write_service_config(folder, sources, interval=kw.get("interval", "1m"))
        env = {"RESPONDER_TEST_CLOCK": str(clock.path)}

        def launch(tag: str) -> ServiceProcess:
            proc = ServiceProcess(
                cfg,
                url,
                folder / f"{tag}.log",
                cycle_seconds=float(kw.get("cycle", "1")),
                token=TOKEN,
                telegram_base_url=api.base_url,
                env=env,
            )
            proc.wait_running()
            clock.go()
            return proc

        return launch

    def close(self) -> None:
        self.feeds.stop()
        if self.pg is not None:
            self.pg.stop()


# --------------------------------------------------------------------------- scenarios


def restart_mid_chain(b: Bench) -> Result:
    """A 较大 incident climbs duty officer → policy office (15 min) → head (step overdue at 55
    min); the process is killed at minute 8 and started again: does the chain go on?"""
    api = ControlledBotApi().start()
    clock = TestClock(b.work / "restart.clock", T0, rate=60)
    url = b.sqlite_url("restart")
    (b.work / "restart").mkdir(parents=True, exist_ok=True)
    migrate(url)
    report = serious_report(0, T0 - timedelta(minutes=5))
    b.feeds.route("/restart.xml", rss([report]))
    launch = b.start("restart", url, api, clock, [("news", b.feeds.url("/restart.xml"))])
    proc = launch("first")
    try:
        wait_until(lambda: level_cards(api, 1), 60, "the level-1 card")
        wait_until(lambda: clock.now() >= T0 + timedelta(minutes=5), 30, "minute 5")
        proc.kill()
        killed_at = clock.now()
        proc = launch("second")
        back_at = clock.now()
        wait_until(lambda: clock.now() >= T0 + timedelta(minutes=62), 120, "minute 62")
    finally:
        proc.stop()
    api.close()
    reached = {n: level_cards(api, n) for n in (1, 2, 3)}
    engine = make_engine(url)
    with Session(engine) as s:
        level = s.exec(select(Incident.escalation_level)).one()
    queued = {r.dedup_key.rsplit("@", 1)[0]: r.created_at for r in outbox_rows(engine)}
    engine.dispose()
    minute = {
        what: (queued[key] - T0) // timedelta(minutes=1)
        for what, key in (
            ("L2", "incident:1:escalation:L2:r0"),
            ("L3", "incident:1:escalation:L3:r0"),
            ("overdue", "incident:1:publish_info::overdue"),
        )
        if key in queued
    }
    checks = {
        "level 2 (policy office) card after the restart": OFFICE in reached[2],
        "level 3 (head) card when the 1-hour step was overdue": HEAD in reached[3],
        "incident at level 3": level == 3,
    }
    down = f"down from minute {(killed_at - T0) // timedelta(minutes=1)} to {(back_at - T0) // timedelta(minutes=1)}"
    per_level = ", ".join(f"L{n}: {sum(c.values())}" for n, c in reached.items())
    return Result(
        "restart",
        "Grafana OnCall #1206",
        unsent(url) + sum(1 for c in reached.values() if not c),
        duplicates(api),
        1,  # the kill may land on a send
        checks,
        [
            down,
            f"escalation cards {per_level}",
            "queued at minute " + ", ".join(f"{k} {v}" for k, v in minute.items()),
        ],
    )


def kill_one_of_three(b: Bench) -> Result:
    """Three instances on PostgreSQL, 24 incidents, one instance SIGKILLed while it sends."""
    api = ControlledBotApi().start()
    api.send_delay = 0.3
    clock = TestClock(b.work / "kill.clock", datetime.now(UTC), rate=10)
    url = b.pg_url()
    migrate(url)
    now = clock.now()
    reports = [incident_report(i, now - timedelta(minutes=2), seed=7) for i in range(24)]
    for k in range(3):
        b.feeds.route(f"/kill{k}.xml", rss(reports[k::3]))
    launch = b.start("kill", url, api, clock, [(f"f{k}", b.feeds.url(f"/kill{k}.xml")) for k in range(3)])
    procs = [launch(f"i{k}") for k in range(3)]
    titles = [r[1] for r in reports]
    engine = make_engine(url)
    victim = None
    try:
        wait_until(
            lambda: len(api.messages(DUTY)) >= 4 and api.in_flight, 90, "four cards sent, one in flight"
        )
        sending = {r.claimed_by for r in outbox_rows(engine) if r.status == "sending"}
        victim = next((p for p in procs if p.instance in sending), procs[0])
        victim.kill()
        wait_until(lambda: all(n >= 1 for n in cards(api, titles).values()), 120, "every card")
        time.sleep(2)  # a late second copy would show now
    finally:
        engine.dispose()
        for p in procs:
            if p is not victim:
                p.stop()
    api.close()
    got = cards(api, titles)
    return Result(
        "kill",
        "Alertmanager #1005 #2222 #4008",
        sum(1 for n in got.values() if n == 0) + unsent(url),
        duplicates(api),
        1,
        {"the killed instance held a row being sent": victim is not None},
        [f"{len(titles)} incidents, {sum(got.values())} cards received"],
    )


class StormApi(ControlledBotApi):
    """sendMessage answers 429 with retry_after while the test clock is inside the storm."""

    def __init__(self, clock: TestClock, until: datetime, retry_after: int) -> None:
        super().__init__()
        self.clock, self.until, self.retry_after = clock, until, retry_after
        self.refused = 0

    def _take_fault(self, method: str) -> Fault | None:
        if method.lower() == "sendmessage" and self.clock.now() < self.until:
            self.refused += 1
            body = (
                '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after '
                f'{self.retry_after}","parameters":{{"retry_after":{self.retry_after}}}}}'
            )
            return Fault(429, body.encode())
        return super()._take_fault(method)


def flood_storm(b: Bench) -> Result:
    """Ten minutes in which every sendMessage is refused with 429 and retry_after; 16
    incidents open during it. Everything must arrive afterwards, once, in order."""
    clock = TestClock(b.work / "flood.clock", T0, rate=20)
    api = StormApi(clock, T0 + timedelta(minutes=10), retry_after=30)
    api.start()
    url = b.sqlite_url("flood")
    (b.work / "flood").mkdir(parents=True, exist_ok=True)
    migrate(url)
    reports = [incident_report(i, T0 + timedelta(seconds=30 * i), seed=3) for i in range(16)]
    b.feeds.route("/flood.xml", rss(reports[:4]))
    launch = b.start("flood", url, api, clock, [("news", b.feeds.url("/flood.xml"))])
    proc = launch("run")
    titles = [r[1] for r in reports]
    try:
        for k in range(4, 17, 4):  # more incidents during the storm
            wait_until(lambda k=k: clock.now() >= T0 + timedelta(minutes=2 * k / 4), 60, "storm minute")
            b.feeds.route("/flood.xml", rss(reports[:k]))
        wait_until(lambda: clock.now() >= T0 + timedelta(minutes=10), 60, "the storm's end")
        ended = time.monotonic()
        wait_until(
            lambda: all(n >= 1 for n in cards(api, titles).values()), 120, "every card after the storm"
        )
        drained = time.monotonic() - ended
    finally:
        proc.stop()
    api.close()
    got = cards(api, titles)
    order = [next(t for t in titles if t in x) for c, x in sent(api) if c == DUTY and "🚨" in x]
    return Result(
        "flood",
        "RSS-to-Telegram-Bot #122",
        sum(1 for n in got.values() if n == 0) + unsent(url),
        duplicates(api),
        0,
        {"cards in the order the incidents opened": order == [t for t in titles if t in order]},
        [f"{api.refused} sends refused with 429 during the storm; all 16 cards out {drained:.0f} s after it"],
    )


def cross_feed(b: Bench) -> Result:
    """One accident told by three outlets: three feeds, three URLs, three guids, three wordings."""
    api = ControlledBotApi().start()
    clock = TestClock(b.work / "crossfeed.clock", T0, rate=10)
    url = b.sqlite_url("crossfeed")
    (b.work / "crossfeed").mkdir(parents=True, exist_ok=True)
    migrate(url)
    pub = T0 - timedelta(minutes=3)
    stories = [
        (
            "https://a.example/n/1.html",
            "淮南市一煤矿发生透水事故",
            "淮南消息：某煤矿井下发生透水事故，救援正在进行。",
        ),
        (
            "https://b.example/2026/11/21/x.shtml",
            "淮南一煤矿透水 救援进行中",
            "记者从淮南获悉，一煤矿发生透水事故。",
        ),
        (
            "https://c.example/p?id=99",
            "突发！淮南某煤矿发生透水事故",
            "淮南某煤矿井下透水，救援力量已赶赴现场。",
        ),
    ]
    for k, (link, title, text) in enumerate(stories):
        b.feeds.route(f"/cross{k}.xml", rss([(link, title, text, pub + timedelta(minutes=k))]))
    launch = b.start(
        "crossfeed", url, api, clock, [(f"outlet{k}", b.feeds.url(f"/cross{k}.xml")) for k in range(3)]
    )
    proc = launch("run")
    engine = make_engine(url)
    try:
        wait_until(lambda: any(c == DUTY and "🚨" in x for c, x in sent(api)), 60, "the card")
        wait_until(lambda: clock.now() >= T0 + timedelta(minutes=1, seconds=20), 90, "every feed polled")
        time.sleep(3)  # cycles after the last poll
    finally:
        proc.stop()
    with Session(engine) as s:
        incidents = list(s.exec(select(Incident)).all())
    engine.dispose()
    api.close()
    new_cards = [x for c, x in sent(api) if c == DUTY and "🚨" in x]
    return Result(
        "crossfeed",
        "miniflux #797",
        unsent(url),
        duplicates(api),
        0,
        {"one incident": len(incidents) == 1, "one card": len(new_cards) == 1},
        [
            f"{len(incidents)} incident(s), heat {incidents[0].heat if incidents else 0}, {len(new_cards)} card(s)"
        ],
    )


def clock_jump(b: Bench) -> Result:
    """An open 较大 incident; the host's clock jumps 2 days ahead for a few cycles, then back;
    then a new accident is reported."""
    api = ControlledBotApi().start()
    clock = TestClock(b.work / "clock.clock", T0, rate=10)
    url = b.sqlite_url("clock")
    (b.work / "clock").mkdir(parents=True, exist_ok=True)
    migrate(url)
    first, later = serious_report(0, T0 - timedelta(minutes=5)), serious_report(1, T0)
    b.feeds.route("/clock.xml", rss([first]))
    launch = b.start("clock", url, api, clock, [("news", b.feeds.url("/clock.xml"))])
    proc = launch("run")
    try:
        wait_until(lambda: cards(api, [first[1]])[first[1]] == 1, 60, "the first card")
        clock.set(jump=timedelta(days=2))
        time.sleep(3.5)  # three cycles two days ahead (one cycle a second)
        clock.set(jump=timedelta(0))
        back = clock.now()
        b.feeds.route("/clock.xml", rss([first, (*later[:3], back)]))
        wait_until(lambda: cards(api, [later[1]])[later[1]] == 1, 60, "the card of the report after the jump")
        time.sleep(2)
    finally:
        proc.stop()
    api.close()
    engine = make_engine(url)
    with Session(engine) as s:
        levels = [i.escalation_level for i in s.exec(select(Incident)).all()]
    engine.dispose()
    texts = [x for _, x in sent(api)]
    told = [x for c, x in sent(api) if c == ADMIN and x.startswith("⏰")]
    return Result(
        "clock",
        "issue 15",
        unsent(url) + (0 if len(levels) == 2 else 1),
        duplicates(api),
        0,
        {
            "no 已超时 notice": not any("已超时" in x for x in texts),
            "nothing to the head": not [x for c, x in sent(api) if c == HEAD],
            "no escalation past level 1": levels == [1, 1],
            "admins told once": len(told) == 1,
            "polling resumed (the new report alerted)": len(levels) == 2,
        },
        [f"escalation levels {levels}; clock notices to admins: {len(told)}"],
    )


def full_disk(b: Bench) -> Result:
    """The SQLite file's disk (a 3 MB tmpfs) fills for 40 cycles while a new accident is reported."""
    folder = b.work / "disk"
    mount = folder / "fs"
    mount.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        return Result("disk", "issue 15", 0, 0, 0, {"mounted a small filesystem (needs root)": False})
    api = ControlledBotApi().start()
    clock = TestClock(b.work / "disk.clock", T0, rate=10)
    url = f"sqlite:///{mount / 'responder.sqlite3'}"
    migrate(url)
    first, later = serious_report(0, T0 - timedelta(minutes=5)), serious_report(1, T0)
    b.feeds.route("/disk.xml", rss([first]))
    launch = b.start("disk", url, api, clock, [("news", b.feeds.url("/disk.xml"))])
    proc = launch("run")
    filler = mount / "filler"
    try:
        wait_until(lambda: cards(api, [first[1]])[first[1]] == 1, 60, "the first card")
        with open(filler, "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError:
                pass
        b.feeds.route("/disk.xml", rss([first, (*later[:3], clock.now())]))
        time.sleep(40)  # 40 cycles on a full disk
        full_log = proc.log()
        filler.unlink()
        wait_until(
            lambda: cards(api, [later[1]])[later[1]] == 1, 60, "the card of the report made while full"
        )
        time.sleep(2)
    finally:
        proc.stop()
        subprocess.run(["umount", "-l", str(mount)], check=False)
    api.close()
    errors = [ln for ln in full_log.splitlines() if " ERROR " in ln]
    tracebacks = full_log.count("Traceback")
    admin = [x for c, x in sent(api) if c == ADMIN]
    return Result(
        "disk",
        "issue 15",
        sum(1 for t in (first[1], later[1]) if cards(api, [t])[t] == 0),
        duplicates(api),
        1,  # the card on the wire when the disk filled is sent again, as after a crash
        {
            "one error line for the episode": len(errors) == 1,
            "no traceback": tracebacks == 0,
            "admins told it was full": sum(x.startswith("💾") for x in admin) == 1,
            "admins told it has room again": sum(x.startswith("✅ 磁盘") for x in admin) == 1,
        },
        [f"{len(errors)} error line(s), {tracebacks} traceback(s) in 40 cycles"],
    )


SCENARIOS: dict[str, Callable[[Bench], Result]] = {
    "restart": restart_mid_chain,
    "kill": kill_one_of_three,
    "flood": flood_storm,
    "crossfeed": cross_feed,
    "clock": clock_jump,
    "disk": full_disk,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated, of: {', '.join(SCENARIOS)}")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs) for reading")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(SCENARIOS)
    work = Path(tempfile.mkdtemp(prefix="responder-chaos-"))
    os.chmod(work, 0o755)
    bench = Bench(work)
    results: list[Result] = []
    try:
        for name in names:
            started = time.monotonic()
            r = SCENARIOS[name](bench)
            r.notes.append(f"{time.monotonic() - started:.0f} s")
            results.append(r)
            print(
                f"{r.name:<10} lost {r.lost}  twice {r.duplicates}  {'ok' if r.ok else 'MISSED'}", flush=True
            )
    finally:
        bench.close()
        if args.keep:
            print(f"logs in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'scenario':<10} {'anchor':<31} {'lost':>4} {'twice':>5}  checks / notes")
    for r in results:
        failed = [k for k, v in r.checks.items() if not v]
        checks = f"{len(r.checks) - len(failed)}/{len(r.checks)} checks" + (
            f" (failed: {failed})" if failed else ""
        )
        print(f"{r.name:<10} {r.anchor:<31} {r.lost:>4} {r.duplicates:>5}  {checks}; {'; '.join(r.notes)}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
