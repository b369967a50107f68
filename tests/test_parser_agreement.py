"""The fast parser and feedparser (the reference) give the same entries.

On every feed under tests/data/feeds, and on every document the feed tests parse
(they are run again with `kit.parsecheck`, which parses each document both ways).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from kit.feedserver import DATA

from responder.feeds import FeedParseError, decode_feed, parse_feed
from responder.feeds.decode import strip_xml_encoding
from responder.feeds.doctype import neutralise
from responder.feeds.fastparse import read_fast

TESTS = Path(__file__).resolve().parent
FEEDS = sorted(p for p in DATA.iterdir() if p.suffix in (".xml", ".html"))
# Well-formed files the fast parser must read itself (else the comparison proves nothing).
WELL_FORMED = {"utf8.xml", "atom.xml", "gbk.xml", "big5.xml", "gb18030.xml"}


def outcome(text: str, *, reference: bool) -> object:
    try:
        return parse_feed(text, base_url="https://example.cn/feed.xml", reference=reference)
    except FeedParseError as exc:
        return str(exc)


@pytest.mark.parametrize("path", FEEDS, ids=lambda p: p.name)
def test_both_parsers_read_each_test_feed_alike(path: Path) -> None:
    text = decode_feed(path.read_bytes(), None)
    fast, reference = outcome(text, reference=False), outcome(text, reference=True)
    assert fast == reference or (
        not isinstance(fast, str)
        and not isinstance(reference, str)
        and (fast.title, fast.entries, fast.item_keys)
        == (reference.title, reference.entries, reference.item_keys)
    )
    if path.name in WELL_FORMED:
        assert read_fast(neutralise(strip_xml_encoding(text))) is not None


def test_both_parsers_read_every_feed_the_feed_tests_parse() -> None:
    tests = sorted(str(p) for p in TESTS.glob("test_feed_*.py"))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "kit.parsecheck", "-p", "no:cacheprovider", *tests],
        cwd=TESTS.parent,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = re.search(
        r"parsecheck: (\d+) documents compared, (\d+) read by the fast parser, (\d+) differences", run.stdout
    )
    assert summary is not None, run.stdout[-3000:] + run.stderr[-3000:]
    compared, fast, differences = map(int, summary.groups())
    assert differences == 0, run.stdout[-6000:]
    assert run.returncode == 0, run.stdout[-3000:]
    assert compared >= 50 and fast >= compared // 3, summary.group(0)
