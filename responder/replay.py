"""Replay local feed files on a live timeline: the offline example, as if it were happening now.

A config with `replay: {recorded_start: …}` says its local feed files were written as
if the clock read `recorded_start`. When `run` starts for the first time on a database,
that moment is mapped to the start: every date in the files moves by
(start − recorded_start), and an item is served only once its moved date has come. So
an item dated 20 minutes before `recorded_start` is 20 minutes old when the example
starts, and one dated 10 minutes after it appears 10 minutes into the run. Restarts
on the same database keep the first start, so the timeline continues.

The moved copies are written to `<replay dir>/<n>-<file name>`, byte for byte the
originals except for the dates (the encodings — GBK, Big5 — stay as they are), and
rewritten only when an item appears, so the poller sees an unchanged file as such.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from .runtime import Settings

__all__ = ["Replay", "shift_feed"]

# Dates are ASCII in every encoding a feed uses, and '<' never occurs inside a GBK or
# Big5 character (their second bytes start at 0x40), so the bytes can be edited directly.
_ITEM = re.compile(rb"<(item|entry)[\s>].*?</\1\s*>", re.S)
_RFC822 = re.compile(rb"(<(pubDate|lastBuildDate)>)\s*([^<]+?)\s*(</\2>)")
_ISO = re.compile(rb"(<(published|updated|dc:date)>)\s*([^<]+?)\s*(</\2>)")
_STARTED_FILE = "started_at"


def _moved_rfc822(text: bytes, offset: timedelta) -> tuple[bytes, datetime | None]:
    try:
        when = parsedate_to_datetime(text.decode("ascii"))
    except (TypeError, ValueError, UnicodeDecodeError):
        return text, None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    moved = when + offset
    return format_datetime(moved).encode("ascii"), moved


def _moved_iso(text: bytes, offset: timedelta) -> tuple[bytes, datetime | None]:
    try:
        when = datetime.fromisoformat(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return text, None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    moved = when + offset
    return moved.isoformat().encode("ascii"), moved


def _shift_dates(chunk: bytes, offset: timedelta) -> tuple[bytes, datetime | None]:
    """`chunk` with every date moved by `offset`, and the first of them (the item's date)."""
    first: list[datetime] = []

    def sub(
        fn: Callable[[bytes, timedelta], tuple[bytes, datetime | None]],
    ) -> Callable[[re.Match[bytes]], bytes]:
        def repl(m: re.Match[bytes]) -> bytes:
            text, moved = fn(m.group(3), offset)
            if moved is not None and not first:
                first.append(moved)
            return m.group(1) + text + m.group(4)

        return repl

    chunk = _RFC822.sub(sub(_moved_rfc822), chunk)
    chunk = _ISO.sub(sub(_moved_iso), chunk)
    return chunk, (first[0] if first else None)


def shift_feed(body: bytes, offset: timedelta, now: datetime) -> bytes:
    """The feed `body` with its dates moved by `offset`, without the items still in the future.

    An item without a date is kept as it is. Pure: bytes in, bytes out.
    """
    out: list[bytes] = []
    pos = 0
    for m in _ITEM.finditer(body):
        head, _ = _shift_dates(body[pos : m.start()], offset)
        out.append(head)
        item, when = _shift_dates(m.group(0), offset)
        if when is None or when <= now:
            out.append(item)
        pos = m.end()
    tail, _ = _shift_dates(body[pos:], offset)
    out.append(tail)
    return b"".join(out)


@dataclass
class Replay:
    """The moved copies of one config's local feed files, refreshed as time passes."""

    settings: Settings  # the settings as loaded (original file paths)
    directory: Path
    offset: timedelta
    files: dict[str, tuple[Path, Path]]  # source name -> (original, moved copy)

    @classmethod
    def prepare(cls, settings: Settings, directory: Path, now: datetime, fresh: bool) -> Replay:
        """Map the recording onto the clock: `fresh` (a database with no feed yet) starts the
        timeline at `now`; otherwise the start stored in `directory` by an earlier run is kept."""
        assert settings.feeds.replay is not None
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = directory / _STARTED_FILE
        started = now.replace(microsecond=0)  # feed dates carry whole seconds
        if not fresh and stamp.exists():
            with contextlib.suppress(ValueError):  # an unreadable stamp starts the timeline afresh
                started = datetime.fromisoformat(stamp.read_text(encoding="utf-8").strip())
        stamp.write_text(started.isoformat() + "\n", encoding="utf-8")
        offset = started - settings.feeds.replay.recorded_start
        files = {}
        for i, source in enumerate(settings.feeds.sources):
            if source.url is None or urlsplit(source.url).scheme:
                continue  # only local files are replayed; a real feed is fetched as it is
            original = (settings.base_dir / source.url).resolve()
            files[source.name] = (original, directory / f"{i:02d}-{original.name}")
        replay = cls(settings, directory, offset, files)
        replay.refresh(now)
        return replay

    @property
    def started_at(self) -> datetime:
        """The real moment that stands for the recording's `recorded_start`."""
        assert self.settings.feeds.replay is not None
        return self.settings.feeds.replay.recorded_start + self.offset

    def refresh(self, now: datetime) -> int:
        """Rewrite the copies whose visible items changed; returns how many were rewritten."""
        changed = 0
        for original, copy in self.files.values():
            body = shift_feed(original.read_bytes(), self.offset, now)
            if not copy.exists() or copy.read_bytes() != body:
                tmp = copy.with_name(copy.name + ".tmp")
                tmp.write_bytes(body)
                tmp.replace(copy)
                changed += 1
        return changed

    def replayed_settings(self) -> Settings:
        """The settings with each replayed source reading its moved copy."""
        feeds = self.settings.feeds
        sources = [
            s.model_copy(update={"url": str(self.files[s.name][1])}) if s.name in self.files else s
            for s in feeds.sources
        ]
        return replace(self.settings, feeds=feeds.model_copy(update={"sources": sources}))
