"""The parse worker: a child process that parses one feed at a time under a memory limit.

Started by `isolate.ParsePool` as `python -m responder.feeds.worker MEMORY_MB`. It caps
its own address space at what it uses after start-up plus MEMORY_MB (RLIMIT_AS), then
answers requests on stdin with replies on stdout, each a 4-byte length and a pickle.
A parse that runs out of memory is answered as such and the worker exits (its heap may
be in any state); end of input (the service closed the pipe or died) ends it too.
"""

from __future__ import annotations

import os
import pickle
import resource
import signal
import struct
import sys
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from .parse import FeedParseError, parse_feed

__all__ = ["main", "read_message", "write_message"]

_HEADER = struct.Struct("!I")


def _framed(message: object) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


# Made before the memory limit is set: saying "out of memory" must not need memory, since
# the parse that ran out may leave the heap too fragmented for even a small pickle.
_OUT_OF_MEMORY = _framed(("memory", None))


def read_message(stream: BinaryIO) -> Any | None:
    """One pickled message from `stream`; None at end of input."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)


def write_message(stream: BinaryIO, message: object) -> None:
    """Write one message as a 4-byte length and a pickle, and flush."""
    stream.write(_framed(message))
    stream.flush()


def _out_of_memory(stream: BinaryIO) -> int:
    """Answer that the request ran out of memory, with the reply made at start, and end (1)."""
    # Straight to the pipe (every earlier reply was flushed); a few bytes are written at once.
    os.write(stream.fileno(), _OUT_OF_MEMORY)
    return 1


def _address_space() -> int:
    """This process's current virtual size in bytes (Linux), 0 when unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _limit_memory(extra_mb: int) -> None:
    used = _address_space()
    if used:
        limit = used + extra_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _handle(request: dict[str, Any]) -> tuple[str, object]:
    try:
        feed = parse_feed(
            request["text"],
            naive_tz=ZoneInfo(request["zone"]),
            skip_items=request["skip_items"],
            base_url=request["base_url"],
            now=request["now"],
        )
    except FeedParseError as exc:
        return "not_a_feed", str(exc)
    return "ok", feed


def main(argv: list[str]) -> int:
    """Serve parse requests until end of input."""
    # Ctrl-C reaches the whole process group; the service decides when we stop (it closes stdin).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_memory(int(argv[1]) if len(argv) > 1 else 256)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    write_message(stdout, ("ready", os.getpid()))  # start-up is not counted against a parse's time
    while True:
        try:
            request = read_message(stdin)
        except MemoryError:
            return _out_of_memory(stdout)
        if request is None:
            return 0
        try:
            reply = _handle(request)
        except MemoryError:
            del request
            return _out_of_memory(stdout)
        except Exception as exc:  # a parser bug on hostile input: that feed fails, not the service
            reply = ("crashed", f"{type(exc).__name__}: {exc}")
        try:
            write_message(stdout, reply)
        except MemoryError:
            os._exit(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
