"""A cheap feed server for benchmarks: aiohttp's low-level server in its own process.

Run by the benchmarks through `start(...)`; pinned to a core of its own with `taskset`
when one is given, so the measured process never competes with it.

Paths (feed i, version v):
- `/etag/{i}`: the 50-item Chinese feed `make_feed(i, newest=49 + v)` with ETag `"i-v"`;
  304 when the request's If-None-Match names the current version.
- `/plain/{i}`: the same body, no validators (the client recognises it by its hash).

A feed's version is 0 while `change_every` is 0; otherwise it advances once every
`change_every` seconds, each feed at its own phase, so about `1 / change_every` of the
feeds a second gain one item (and lose their oldest), and a poll of a changed feed is a
200 with one new item to parse.

The server listens on `ports` consecutive ports: each is a host of its own to the
client's per-host limit, as many feeds on many sites are.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

from bench_parsing import ITEMS, make_feed  # noqa: E402


@functools.lru_cache(maxsize=4096)
def _body(i: int, version: int) -> bytes:
    return make_feed(i, newest=ITEMS - 1 + version)


def _phase(i: int) -> float:
    return ((i * 2654435761) % 2**32) / 2**32


async def serve(first_port: int, ports: int, change_every: float) -> None:
    from aiohttp import web

    start = time.time()

    def version(i: int) -> int:
        if change_every <= 0:
            return 0
        return int((time.time() - start) / change_every + _phase(i))

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        parts = request.path.split("/")
        if len(parts) != 3 or not parts[2].isdigit():
            return web.Response(status=404)
        i = int(parts[2])
        v = version(i)
        if parts[1] == "plain":
            return web.Response(body=_body(i, v), content_type="application/rss+xml", charset="utf-8")
        tag = f'"{i}-{v}"'
        if request.headers.get("If-None-Match") == tag:
            return web.Response(status=304, headers={"ETag": tag})
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

    def __init__(self, *, ports: int = 1, change_every: float = 0.0, cpu: int | None = None):
        self.first_port = free_ports(ports)
        self.ports = ports
        cmd = [sys.executable, __file__, str(self.first_port), str(ports), str(change_every)]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu), *cmd]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the loop server did not start")

    def url(self, kind: str, i: int) -> str:
        return f"http://127.0.0.1:{self.first_port + i % self.ports}/{kind}/{i}"

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
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.first_port, args.ports, args.change_every))


if __name__ == "__main__":
    main()
