"""A pytest plugin that has every `parse_feed` call read its document with both parsers.

Loaded with `-p kit.parsecheck` (tests/test_parser_agreement.py runs the feed tests so):
each call parses with the fast parser, as the service does, and again with feedparser
(`reference=True`), and any difference in title, entries, item keys, skipped count,
the presence of a defect or the error raised is recorded. At the end of the session the
plugin prints how many documents it compared and how many the fast parser read itself,
and fails the run if any two readings differed.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

import responder.feeds
import responder.feeds.parse as parse_module
from responder.feeds.fastparse import read_fast
from responder.feeds.parse import FeedParseError, ParsedFeed

_original = parse_module.parse_feed
_fast_reads = 0
_compared = 0
_differences: list[str] = []


def _outcome(text: str, **kw: Any) -> ParsedFeed | str:
    try:
        return _original(text, **kw)
    except FeedParseError as exc:
        return f"FeedParseError: {exc}"


def _same(a: ParsedFeed | str, b: ParsedFeed | str) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return (a.title, a.entries, a.item_keys, a.skipped, a.bozo is None) == (
        b.title,
        b.entries,
        b.item_keys,
        b.skipped,
        b.bozo is None,
    )


@functools.wraps(_original)
def _checked(text: str, **kw: Any) -> ParsedFeed:
    global _compared, _fast_reads
    fast = _outcome(text, **kw)
    reference = _outcome(text, **{**kw, "reference": True})
    _compared += 1
    try:
        prepared = parse_module.neutralise(parse_module.strip_xml_encoding(text))
        _fast_reads += read_fast(prepared) is not None
    except Exception:
        pass
    if not _same(fast, reference):
        _differences.append(f"{text[:200]!r}\n  fast: {fast!r}\n  feedparser: {reference!r}")
    if isinstance(fast, str):
        return _original(text, **kw)  # raises the same error again
    return fast


parse_module.parse_feed = _checked  # type: ignore[assignment]
responder.feeds.parse_feed = _checked  # type: ignore[assignment]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    print(f"\nparsecheck: {_compared} documents compared, {_fast_reads} read by the fast parser, "
          f"{len(_differences)} differences")  # fmt: skip
    for diff in _differences[:20]:
        print("DIFFERENCE", diff)
    if _differences:
        session.exitstatus = 1
