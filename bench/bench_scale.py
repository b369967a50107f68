"""Scale: one `python main.py run` process on one core polling N feeds (default 100,000 every 5 minutes).

Run: .venv/bin/python bench/bench_scale.py                       (100,000 feeds, 300 s, SQLite)
     .venv/bin/python bench/bench_scale.py --feeds 20000 --seconds 120
     .venv/bin/python bench/bench_scale.py --db postgresql
     .venv/bin/python bench/bench_scale.py --db postgresql --instances 3 --feeds 60000

What runs:
- a loop server (bench/loopserver.py, aiohttp) in its own process pinned to the second core,
  on 50 ports (50 hosts to the per-host limit), answering 304 for a feed that has not
  changed and a 200 with one new item (20 items of everyday news, no accident) for one
  that has: `--change` of the polls (default 2%) find the feed changed;
- the service (`main.py run`, console sender, web console on a free port) pinned to the first
  core with `taskset`, its database seeded as after a day of running: every feed baselined,
  its ETag known, its next poll spread evenly over the interval from a moment t0, no jitter.

The server knows the schedule (t0 and each feed's place in the interval, the formula the
seed used), so it measures every poll's lateness as it arrives: the time since the feed was
due. After `--warm` seconds (the first polls, connections opening, item keys unknown) the
counts are reset and `--seconds` are measured. Printed: polls served per second against
those due, the share of polls on time (started within `--on-time` s of due, default 5 s),
lateness median / p98 / max, the service's CPU (share of its one core) and peak RSS
(VmHWM), and the server's CPU. Targets (issue 13): >= 98% on time, peak RSS <= 400 MB.
Exit status 1 when one is missed.

With `--instances N` (PostgreSQL), N service processes share the feeds (all on the first
core, the server on the second): printed per instance, its CPU and the polls it made (from
its once-a-minute polling summary in the log), and how many feeds were polled twice within
half an interval (none should be).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import sqlalchemy as sa  # noqa: E402
from kit.servicekit import ROSTER, migrate  # noqa: E402
from loopserver import BIN, LoopServer, phase  # noqa: E402

from responder.db import make_engine  # noqa: E402
from responder.models import FeedState  # noqa: E402

PORTS = 50
TARGET_ON_TIME = 0.98
TARGET_RSS_MB = 400


def write_config(directory: Path, urls: list[str], interval: int) -> Path:
    """feeds.yaml with one source per URL, no jitter, the web console on a free port."""
    (directory / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    lines = [
        f"playbooks: {ROOT / 'playbooks'}",
        "roster: roster.yaml",
        "web: {port: 0}",
        "polling:",
        f"  interval: {interval}s",
        "  jitter: 0",
        "  timeout: 20s",
        "sources:",
        *(f"  - {{name: f{i:06d}, url: '{url}'}}" for i, url in enumerate(urls)),
        "schemes:",
        "  - name: 安徽事故",
        "    region: [安徽, 合肥, 淮南]",
        "    event: [爆炸, 火灾, 死亡]",
    ]
    cfg = directory / "feeds.yaml"
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


def seed(url: str, urls: list[str], t0: float, interval: int) -> None:
    """Feed states as after a day of running: baselined, ETag known, next polls spread from t0."""
    engine = make_engine(url)
    day_ago = datetime.now(UTC) - timedelta(days=1)
    start = datetime.fromtimestamp(t0, UTC)
    rows = [
        {
            "source": f"f{i:06d}",
            "url": u,
            "etag": f'"{i}-0"',
            "next_poll_at": start + timedelta(seconds=phase(i) * interval),
            "baselined_at": day_ago,
            "last_success_at": day_ago,
            "last_new_at": day_ago,
            "consecutive_failures": 0,
            "health_alerted": False,
            "polls": 1,
        }
        for i, u in enumerate(urls)
    ]
    table = FeedState.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        for k in range(0, len(rows), 5000):
            conn.execute(sa.insert(table), rows[k : k + 5000])
    engine.dispose()


def proc_stat(pid: int) -> tuple[float, float]:
    """(CPU seconds, VmHWM in MB) of `pid`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    hwm = next(
        int(line.split()[1]) / 1024
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    return cpu, hwm


class RssSampler(threading.Thread):
    """VmRSS of `pid` every half second: where the peak falls (start-up or polling)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            try:
                text = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmRSS:"):
                    self.samples.append((time.time(), int(line.split()[1]) / 1024))

    def peak(self, start: float, end: float) -> float:
        return max((mb for at, mb in self.samples if start <= at <= end), default=float("nan"))


def polled_in_log(path: Path, start: float, end: float) -> int:
    """Polls an instance made between `start` and `end`, from its once-a-minute summary lines."""
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if "polled " not in line or " feeds in " not in line:
            continue
        try:
            at = datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S").astimezone().timestamp()
            count = int(line.split("polled ", 1)[1].split(" ", 1)[0])
        except ValueError:
            continue
        if start + 30 <= at <= end + 30:  # a line sums the minute before it
            total += count
    return total


def percentile(bins: list[int], q: float) -> float:
    total = sum(bins)
    seen = 0
    for k, n in enumerate(bins):
        seen += n
        if seen >= q * total:
            return (k + 1) * BIN
    return len(bins) * BIN


def run(args: argparse.Namespace, workdir: Path, db_url: str) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0))
    service_cpu, server_cpu = cpus[0], cpus[-1]
    t0 = time.time() + args.start_after
    change_every = args.interval / args.change if args.change > 0 else 0.0
    server = LoopServer(
        ports=PORTS,
        change_every=change_every,
        cpu=server_cpu,
        t0=t0,
        interval=args.interval,
        bodies="ordinary",
    )
    try:
        urls = [server.url("etag", i) for i in range(args.feeds)]
        cfg = write_config(workdir, urls, args.interval)
        migrate(db_url)
        seed(db_url, urls, t0, args.interval)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_URL"))}
        env |= {"DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1"}
        cmd = ["taskset", "-c", str(service_cpu), sys.executable, "main.py", "run", "--config", str(cfg)]
        logs = [workdir / f"run{k}.log" for k in range(args.instances)]
        procs = [
            subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=path.open("wb"), stderr=subprocess.STDOUT)
            for path in logs
        ]
        sampler = RssSampler(procs[0].pid)
        sampler.start()
        try:
            while time.time() < t0 + args.warm:
                for proc, path in zip(procs, logs, strict=True):
                    if proc.poll() is not None:
                        raise SystemExit(f"a service exited: {path.read_text()[-3000:]}")
                time.sleep(0.5)
            server.stats(reset=True)
            cpu0 = [proc_stat(p.pid)[0] for p in procs]
            server0 = server.cpu_seconds()
            started = time.time()
            time.sleep(args.seconds)
            stats = server.stats()
            elapsed = time.time() - started
            cpu1 = [proc_stat(p.pid)[0] for p in procs]
            hwm = max(proc_stat(p.pid)[1] for p in procs)
            server_cpu_s = server.cpu_seconds() - server0
        finally:
            sampler.stop.set()
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
    finally:
        server.stop()
    shares = [polled_in_log(path, started, started + elapsed) for path in logs]
    late: list[int] = stats["late"]  # type: ignore[assignment]
    polls = sum(late)
    on_time_bins = int(args.on_time / BIN)
    return {
        "polls": polls,
        "elapsed": elapsed,
        "due_per_s": args.feeds / args.interval,
        "served_per_s": polls / elapsed,
        "bodies": stats["bodies"],
        "on_time": sum(late[:on_time_bins]) / polls if polls else 0.0,
        "p50": percentile(late, 0.5),
        "p98": percentile(late, 0.98),
        "max": max((k + 1) * BIN for k, n in enumerate(late) if n) if polls else 0.0,
        "cpu_share": (cpu1[0] - cpu0[0]) / elapsed,
        "instance_cpu": [(b - a) / elapsed for a, b in zip(cpu0, cpu1, strict=True)],
        "instance_polls": shares,
        "twice": stats.get("twice", 0),
        "rss_mb": hwm,
        "rss_start_mb": sampler.peak(0, t0),
        "rss_polling_mb": sampler.peak(t0 + args.warm, time.time()),
        "server_cpu_share": server_cpu_s / elapsed,
        "load": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=100_000)
    parser.add_argument("--interval", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=300.0, help="measured time after the warm-up")
    parser.add_argument("--warm", type=float, default=60.0)
    parser.add_argument("--start-after", type=float, default=45.0, help="seconds until the first feed is due")
    parser.add_argument(
        "--change", type=float, default=0.02, help="share of polls that find the feed changed"
    )
    parser.add_argument("--on-time", type=float, default=5.0)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--instances", type=int, default=1, help="service processes sharing the feeds")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    pg = None
    try:
        if args.db == "postgresql":
            from kit.pg import find_pg_bin, start_pg

            bin_dir = find_pg_bin()
            if bin_dir is None:
                print("PostgreSQL server binaries not installed")
                return 1
            pg = start_pg(bin_dir)
            db_url = pg.create_database("scale")
        else:
            db_url = f"sqlite:///{workdir / 'scale.sqlite3'}"
        r = run(args, workdir, db_url)
    finally:
        if pg is not None:
            pg.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory kept: {workdir}")
    ok_time, ok_rss = r["on_time"] >= TARGET_ON_TIME, r["rss_mb"] <= TARGET_RSS_MB
    print(f"scale ({args.db}): {args.feeds:,} feeds every {args.interval} s ({r['due_per_s']:.0f} polls/s due), "
          f"{args.change:.0%} changed; {r['elapsed']:.0f} s measured after {args.warm:.0f} s warm-up; "
          f"load average {r['load'][0]:.2f} / {r['load'][1]:.2f}")  # fmt: skip
    print(
        f"  polls served {r['served_per_s']:.0f}/s ({r['polls']:,}, of which {r['bodies']:,} with a new item)"
    )
    print(f"  on time (within {args.on_time:g} s of due): {r['on_time']:.1%}   target >= {TARGET_ON_TIME:.0%}: "
          f"{'met' if ok_time else 'MISSED'}; lateness median {r['p50']:.2f} s, p98 {r['p98']:.2f} s, "
          f"max {r['max']:.2f} s")  # fmt: skip
    print(f"  service: {r['cpu_share']:.0%} of its core; peak RSS (VmHWM) {r['rss_mb']:.0f} MB   "
          f"target <= {TARGET_RSS_MB} MB: {'met' if ok_rss else 'MISSED'} (RSS sampled: at most "
          f"{r['rss_start_mb']:.0f} MB while starting, {r['rss_polling_mb']:.0f} MB while polling)")  # fmt: skip
    print(f"  loop server: {r['server_cpu_share']:.0%} of the other core")
    if args.instances > 1:
        total = sum(r["instance_polls"]) or 1
        for k, (cpu, polls) in enumerate(zip(r["instance_cpu"], r["instance_polls"], strict=True)):
            print(f"  instance {k + 1}: {cpu:.0%} of a core, about {polls:,} polls ({polls / total:.0%})")
        print(f"  feeds polled twice within half an interval: {r['twice']}")
    return 0 if ok_time and ok_rss else 1


if __name__ == "__main__":
    raise SystemExit(main())
