"""A cheap feed server for benchmarks: aiohttp's low-level server in its own process.

Run by the benchmarks through `start(...)`; pinned to a core of its own with `taskset`
when one is given, so the measured process never competes with it.

Paths (feed i, version v):
- `/etag/{i}`: feed i at version v with ETag `"i-v"`; 304 when the request's If-None-Match
  names the current version. The body is the 50-item Chinese feed `make_feed(i, newest=49 + v)`
  (`bodies="bench"`) or 20 items of a site's everyday news (`bodies="ordinary"`, no accident).
- `/plain/{i}`: the same body, no validators (the client recognises it by its hash).

A feed's version is 0 while `change_every` is 0; otherwise it advances once every
`change_every` seconds, each feed at its own phase, so about `1 / change_every` of the
feeds a second gain one item (and lose their oldest), and a poll of a changed feed is a
200 with one new item to parse.

The server listens on `ports` consecutive ports: each is a host of its own to the
client's per-host limit, as many feeds on many sites are.

With a schedule (`t0`, `interval`), feed i is due at t0 + (phase(i) + k) · interval
(k = 0, 1, …), as bench_scale.py seeds the poller's state without jitter, and every
request's lateness (arrival minus the latest due time) is counted in 0.25 s bins;
a request for a feed less than half an interval after its previous one is counted as
"twice"; `GET /stats` answers the counts since `GET /stats/reset`, as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

from bench_parsing import ITEMS, make_feed  # noqa: E402

ORDINARY_ITEMS = 20
_ORDINARY_TEXT = "市政府召开常务会议，研究部署近期重点工作，会议强调要统筹推进各项任务落实。" * 3


def ordinary_feed(i: int, newest: int, items: int = ORDINARY_ITEMS) -> bytes:
    """A site's everyday news: `items` items (numbers newest, newest - 1, …), none of them an accident."""
    parts = [
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>站点{i}</title>'
        f"<link>https://site{i}.example.cn/</link>"
    ]
    for k in range(newest, newest - items, -1):
        parts.append(
            f"<item><title>站点{i}日常新闻第{k}条</title><link>https://site{i}.example.cn/n/{k}.html</link>"
            f"<guid>https://site{i}.example.cn/n/{k}.html</guid>"
            f"<pubDate>Mon, 01 Apr 2024 {k % 24:02d}:{k % 60:02d}:00 +0800</pubDate>"
            f"<description><![CDATA[<p>{_ORDINARY_TEXT}</p>]]></description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


BODIES = {
    "bench": lambda i, v: make_feed(i, newest=ITEMS - 1 + v),
    "ordinary": lambda i, v: ordinary_feed(i, ORDINARY_ITEMS - 1 + v),
}
_KIND = "bench"


@functools.lru_cache(maxsize=4096)
def _body(i: int, version: int) -> bytes:
    return BODIES[_KIND](i, version)


BIN = 0.25  # seconds per lateness bin
BINS = 480  # up to 2 minutes; later ones are counted in the last bin


def phase(i: int) -> float:
    """Feed i's place in its interval, in [0, 1): spread evenly, the same in every process."""
    return ((i * 2654435761) % 2**32) / 2**32


def _change_phase(i: int) -> float:
    return ((i * 40503 + 7) % 65536) / 65536


async def serve(first_port: int, ports: int, change_every: float, t0: float, interval: float) -> None:
    from aiohttp import web

    start = time.time()
    stats = {"requests": 0, "bodies": 0, "twice": 0, "late": [0] * BINS}
    last: dict[int, float] = {}

    def version(i: int) -> int:
        if change_every <= 0:
            return 0
        return int((time.time() - start) / change_every + _change_phase(i))

    def count(i: int) -> None:
        stats["requests"] += 1  # type: ignore[operator]
        now = time.time()
        if interval > 0 and now - last.get(i, 0.0) < interval / 2:
            stats["twice"] += 1  # type: ignore[operator]  # polled again within half an interval
        last[i] = now
        if interval > 0:
            late = ((time.time() - t0) - phase(i) * interval) % interval
            stats["late"][min(int(late / BIN), BINS - 1)] += 1  # type: ignore[index]

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        parts = request.path.split("/")
        if request.path == "/stats":
            return web.Response(text=json.dumps(stats), content_type="application/json")
        if request.path == "/stats/reset":
            stats.update(requests=0, bodies=0, twice=0, late=[0] * BINS)
            return web.Response(text="ok")
        if len(parts) != 3 or not parts[2].isdigit():
            return web.Response(status=404)
        i = int(parts[2])
        count(i)
        v = version(i)
        if parts[1] == "plain":
            return web.Response(body=_body(i, v), content_type="application/rss+xml", charset="utf-8")
        tag = f'"{i}-{v}"'
        if request.headers.get("If-None-Match") == tag:
            return web.Response(status=304, headers={"ETag": tag})
        stats["bodies"] += 1  # type: ignore[operator]
        return web.Response(
            body=_body(i, v), headers={"ETag": tag}, content_type="application/rss+xml", charset="utf-8"
        )

    server = web.Server(handler, access_log=None)
    runner = web.ServerRunner(server, access_log=None)
    await runner.setup()
    for port in range(first_port, first_port + ports):
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


def free_ports(n: int) -> int:
    """A first port p with p .. p+n-1 all free on 127.0.0.1 (checked, not guaranteed to stay so)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first + n >= 65000:
            continue
        ok = True
        for port in range(first, first + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return first
    raise RuntimeError(f"no {n} consecutive free ports")


class LoopServer:
    """The server in a child process (optionally pinned to `cpu`); `url(kind, i)` names a feed."""

    def __init__(
        self,
        *,
        ports: int = 1,
        change_every: float = 0.0,
        cpu: int | None = None,
        t0: float = 0.0,
        interval: float = 0.0,
        bodies: str = "bench",
    ):
        self.first_port = free_ports(ports)
        self.ports = ports
        cmd = [
            sys.executable,
            __file__,
            str(self.first_port),
            str(ports),
            str(change_every),
            str(t0),
            str(interval),
            bodies,
        ]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu), *cmd]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the loop server did not start")

    def url(self, kind: str, i: int) -> str:
        return f"http://127.0.0.1:{self.first_port + i % self.ports}/{kind}/{i}"

    def stats(self, reset: bool = False) -> dict[str, object]:
        """The request counts and lateness bins since the last reset (see the module note)."""
        import urllib.request

        path = "/stats/reset" if reset else "/stats"
        with urllib.request.urlopen(f"http://127.0.0.1:{self.first_port}{path}", timeout=10) as r:
            body = r.read()
        return {} if reset else dict(json.loads(body))

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def __enter__(self) -> LoopServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("first_port", type=int)
    parser.add_argument("ports", type=int)
    parser.add_argument("change_every", type=float)
    parser.add_argument("t0", type=float)
    parser.add_argument("interval", type=float)
    parser.add_argument("bodies", choices=sorted(BODIES))
    args = parser.parse_args()
    global _KIND
    _KIND = args.bodies
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.first_port, args.ports, args.change_every, args.t0, args.interval))


if __name__ == "__main__":
    main()
