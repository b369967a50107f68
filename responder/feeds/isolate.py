"""Parse feeds in worker processes, each parse bounded in time and memory.

One hostile or pathological body must never stall polling, the engine cycle or the chat:
parsing is pure Python and runs for as long as the document makes it. So the service
hands each feed's text to a worker process (`worker.py`) that caps its own address
space; the parent waits at most `timeout` seconds and kills the worker when it overruns.
A refused body is a failed poll of that feed (FeedParseError with the reason), nothing
more: the worker is replaced and the other feeds go on.

Workers are started on first use and kept; at most `workers` parse at once. The blocking
pipe I/O runs on the pool's own threads, never on the event loop nor on the default
executor that the engine cycle uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from ..i18n import t
from .parse import FeedParseError, ParsedFeed

__all__ = ["ParsePool"]

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!I")
# Starting a worker (Python, then feedparser) takes a fraction of a second; on a loaded machine
# more. It is not counted against the first parse's time limit.
_START_TIMEOUT = 60.0
# Classes a worker's reply may contain; anything else in it is refused.
_ALLOWED = frozenset(
    {
        ("responder.feeds.parse", "ParsedFeed"),
        ("responder.feeds.parse", "FeedEntry"),
        ("datetime", "datetime"),
        ("datetime", "timezone"),
        ("datetime", "timedelta"),
        ("builtins", "frozenset"),
        ("builtins", "set"),
        ("copyreg", "_reconstructor"),
        ("builtins", "object"),
        ("builtins", "tuple"),
    }
)


class _ReplyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"unexpected {module}.{name} in a parse reply")
        return super().find_class(module, name)


class _Overrun(Exception):
    """The worker did not answer in time, or died; it is gone."""


class _Worker:
    """One child process and its pipes. Used by one thread at a time."""

    def __init__(self, memory_mb: int):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "responder.feeds.worker", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            bufsize=0,  # raw pipes: select() on the descriptor sees every byte there is
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self) -> None:
        """Until the worker said it is ready; _Overrun when it did not start."""
        head = self._read(_HEADER.size, time.monotonic() + _START_TIMEOUT)
        body = self._read(_HEADER.unpack(head)[0], time.monotonic() + _START_TIMEOUT)
        if _ReplyUnpickler(io.BytesIO(body)).load() != ("ready", self.pid):
            raise _Overrun("died")

    def call(self, payload: bytes, timeout: float) -> tuple[str, object]:
        """Send one request, wait for its reply until `timeout`; _Overrun when there is none."""
        deadline = time.monotonic() + timeout
        assert self.proc.stdin is not None and self.proc.stdout is not None
        data = memoryview(_HEADER.pack(len(payload)) + payload)
        try:
            while data:  # the worker is idle, so it reads all of it
                data = data[os.write(self.proc.stdin.fileno(), data) :]
        except OSError:
            # It stopped reading: most likely out of memory, which it says before it exits.
            deadline = min(deadline, time.monotonic() + 1.0)
        head = self._read(_HEADER.size, deadline)
        body = self._read(_HEADER.unpack(head)[0], deadline)
        return _ReplyUnpickler(io.BytesIO(body)).load()  # type: ignore[no-any-return]  # unpickling is untyped; _ReplyUnpickler admits only the reply's classes

    def _read(self, size: int, deadline: float) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        chunks: list[bytes] = []
        got = 0
        while got < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise _Overrun("timeout")
            chunk = os.read(fd, min(size - got, 1 << 20))
            if not chunk:
                raise _Overrun("died")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def kill(self) -> str:
        """Kill the process (if still running) and say how it ended."""
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
        return f"exit status {code}" if code >= 0 else f"signal {-code}"

    def close(self) -> None:
        """Let the worker end by closing its input; kill it if it does not."""
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=2)
        self.kill()


class ParsePool:
    """Worker processes that parse feeds with a time and a memory bound. Thread-safe, loop-agnostic."""

    def __init__(self, *, workers: int = 2, timeout: float = 15.0, memory_mb: int = 256):
        self.workers = workers
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feed-parse")

    @property
    def pids(self) -> list[int]:
        """Process ids of the idle workers (for status and tests)."""
        with self._lock:
            return [w.pid for w in self._idle]

    async def parse(
        self,
        text: str,
        *,
        zone: str,
        base_url: str | None,
        now: datetime | None,
        skip_items: Collection[str] = (),
    ) -> ParsedFeed:
        """parse_feed(text, ...) in a worker; FeedParseError when the feed is refused or overruns."""
        request = {
            "text": text,
            "zone": zone,
            "base_url": base_url,
            "now": now,
            "skip_items": frozenset(skip_items),
        }
        payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, payload)

    def _call(self, payload: bytes) -> ParsedFeed:
        try:
            worker = self._take()
        except _Overrun:
            raise FeedParseError(t("feed_error_parse_crashed", detail="start-up failed")) from None
        try:
            kind, value = worker.call(payload, self.timeout)
        except _Overrun as exc:
            how = worker.kill()
            if str(exc) == "timeout":
                log.warning("feed parser %d killed after %g s", worker.pid, self.timeout)
                raise FeedParseError(t("feed_error_parse_timeout", seconds=f"{self.timeout:g}")) from None
            raise FeedParseError(t("feed_error_parse_crashed", detail=how)) from None
        except pickle.UnpicklingError as exc:
            worker.kill()
            raise FeedParseError(t("feed_error_parse_crashed", detail=str(exc))) from None
        if kind == "memory":
            worker.close()  # it exits by itself after running out of memory
            raise FeedParseError(t("feed_error_parse_memory", mb=self.memory_mb))
        self._give_back(worker)
        if kind == "ok":
            assert isinstance(value, ParsedFeed)
            return value
        if kind == "not_a_feed":
            raise FeedParseError(str(value))
        raise FeedParseError(t("feed_error_parse_crashed", detail=str(value)))

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.proc.poll() is None:
                    return worker
                worker.kill()
        worker = _Worker(self.memory_mb)
        try:
            worker.wait_ready()
        except _Overrun:
            worker.kill()
            raise
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                return
        worker.close()

    def close(self) -> None:
        """Stop every worker (waits for parses in flight to end, at most `timeout` each)."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True)
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()
