"""HTTP cost per poll: our Fetcher against minimal aiohttp and httpx loops, side by side.

Run: .venv/bin/python bench/bench_http.py [--repeat 3]

1,000 feeds on a loopback server (bench/loopserver.py, its own process pinned to the
other core) are polled in rounds by each client in turn:

- 304: the client sends the ETag it got; the server answers 304 Not Modified.
- 200 unchanged: the server sends the whole body (no validators); our Fetcher
  recognises it by its hash and neither decodes nor parses it; the minimal loops
  just read it.

Each client polls 1,000 feeds concurrently within a per-host limit of 4 (the default
`polling.per_host`), over 20 ports (20 hosts). CPU is this process's alone
(time.process_time), pinned to one core; medians of `--repeat` runs, taken in
alternation. Targets (issue 13): our 304 poll within 2x the minimal aiohttp loop's CPU;
a round of 1,000 unchanged 200s at most 0.6 CPU-s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import aiohttp  # noqa: E402
import httpx  # noqa: E402
from loopserver import LoopServer  # noqa: E402

from responder.config import Polling  # noqa: E402
from responder.feeds import Fetcher, Validators  # noqa: E402

N = 1_000
PORTS = 20
PER_HOST = 4
TARGET_RATIO_304 = 2.0
TARGET_UNCHANGED_CPU_S = 0.6

Round = Callable[[list[str], list[str | None]], Awaitable[None]]


def _limited() -> Callable[[str], asyncio.Semaphore]:
    sems: dict[str, asyncio.Semaphore] = {}

    def sem(url: str) -> asyncio.Semaphore:
        host = url.split("/", 3)[2]
        if host not in sems:
            sems[host] = asyncio.Semaphore(PER_HOST)
        return sems[host]

    return sem


async def aiohttp_round(urls: list[str], etags: list[str | None]) -> None:
    sem = _limited()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(url: str, etag: str | None) -> None:
            async with sem(url):
                headers = {"If-None-Match": etag} if etag else {}
                async with session.get(url, headers=headers) as r:
                    await r.read()

        await asyncio.gather(*(one(u, e) for u, e in zip(urls, etags, strict=True)))


async def httpx_round(urls: list[str], etags: list[str | None]) -> None:
    sem = _limited()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits) as client:

        async def one(url: str, etag: str | None) -> None:
            async with sem(url):
                headers = {"If-None-Match": etag} if etag else {}
                r = await client.get(url, headers=headers)
                await r.aread()

        await asyncio.gather(*(one(u, e) for u, e in zip(urls, etags, strict=True)))


def fetcher_round(hashes: dict[str, str | None]) -> Round:
    async def run(urls: list[str], etags: list[str | None]) -> None:
        async with Fetcher(Polling(per_host=PER_HOST)) as f:
            results = await asyncio.gather(
                *(f.fetch(u, Validators(e, None, hashes.get(u))) for u, e in zip(urls, etags, strict=True))
            )
        wrong = [r for r in results if r.status not in ("not_modified", "unchanged")]
        assert not wrong, wrong[0]

    return run


def cpu_of(fn: Round, urls: list[str], etags: list[str | None]) -> float:
    start = time.process_time()
    asyncio.run(fn(urls, etags))
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cpus = os.sched_getaffinity(0)
    mine = min(cpus)
    other = max(cpus) if len(cpus) > 1 else None
    os.sched_setaffinity(0, {mine})
    with LoopServer(ports=PORTS, cpu=other) as server:
        etag_urls = [server.url("etag", i) for i in range(N)]
        plain_urls = [server.url("plain", i) for i in range(N)]
        etags: list[str | None] = [f'"{i}-0"' for i in range(N)]
        none: list[str | None] = [None] * N

        async def first_hashes() -> dict[str, str | None]:
            async with Fetcher(Polling(per_host=PER_HOST)) as f:
                got = await asyncio.gather(*(f.fetch(u, Validators()) for u in plain_urls))
            return {u: r.body_hash for u, r in zip(plain_urls, got, strict=True)}

        hashes = asyncio.run(first_hashes())
        runs: dict[str, tuple[Round, list[str], list[str | None]]] = {
            "304 minimal aiohttp": (aiohttp_round, etag_urls, etags),
            "304 minimal httpx": (httpx_round, etag_urls, etags),
            "304 our Fetcher": (fetcher_round({}), etag_urls, etags),
            "200 unchanged minimal aiohttp": (aiohttp_round, plain_urls, none),
            "200 unchanged minimal httpx": (httpx_round, plain_urls, none),
            "200 unchanged our Fetcher": (fetcher_round(hashes), plain_urls, none),
        }
        for fn, urls, tags in runs.values():  # warm: imports, first connections
            cpu_of(fn, urls[:50], tags[:50])
        figures: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, (fn, urls, tags) in runs.items():
                figures[name].append(cpu_of(fn, urls, tags))
    med = {name: statistics.median(v) for name, v in figures.items()}
    print(f"HTTP: {N} feeds on 127.0.0.1 ({PORTS} ports, per_host {PER_HOST}); CPU of this process on core "
          f"{mine}, server on core {other}; medians of {args.repeat}; load {os.getloadavg()[0]:.2f}")  # fmt: skip
    for name, value in med.items():
        runs_s = ", ".join(f"{v:.3f}" for v in figures[name])
        print(f"  {name:<32} {value:6.3f} CPU-s per round  {1000 * value / N:6.3f} ms/poll  ({runs_s})")
    ratio = med["304 our Fetcher"] / med["304 minimal aiohttp"]
    httpx_ratio = med["304 minimal httpx"] / med["304 minimal aiohttp"]
    unchanged = med["200 unchanged our Fetcher"]
    ok_ratio, ok_unchanged = ratio <= TARGET_RATIO_304, unchanged <= TARGET_UNCHANGED_CPU_S
    print(f"  304: our Fetcher {ratio:.2f}x the minimal aiohttp loop (httpx loop {httpx_ratio:.2f}x); "
          f"target <= {TARGET_RATIO_304:g}x: {'met' if ok_ratio else 'MISSED'}")  # fmt: skip
    print(f"  1,000 unchanged 200s: {unchanged:.3f} CPU-s; target <= {TARGET_UNCHANGED_CPU_S:g}: "
          f"{'met' if ok_unchanged else 'MISSED'}")  # fmt: skip
    return 0 if ok_ratio and ok_unchanged else 1


if __name__ == "__main__":
    raise SystemExit(main())
