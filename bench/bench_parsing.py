"""Parsing speed: feedparser on 50-item Chinese feeds, through decode_feed + parse_feed.

Run: .venv/bin/python bench/bench_parsing.py

Anchor from issue 2 (this machine class): feedparser ~46 feeds/s for 50-item
Chinese feeds. Prints feeds per CPU second for decoding alone, raw
feedparser.parse (the baseline), our parse_feed (decode + the fast lxml reading,
feedparser only for what it cannot read), parse_feed with reference=True (feedparser
reads everything, as before the fast parser), fastfeedparser.parse when installed
(for comparison only: not a dependency), and parse_feed on a feed with one new item
given the previous parse's item_keys.

The cold full parse is measured `ROUNDS` times in alternation with the baseline and
the median ratio printed. Target (issue 13): >= 10x feedparser.parse.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import feedparser

from responder.feeds import decode_feed, parse_feed

ITEMS = 50
N_FEEDS = 200
ANCHOR_FEEDS_PER_S = 46.0
ROUNDS = 5
TARGET_RATIO = 10.0
SEED = 20261121
POOL = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"
    "安徽淮南合肥芜湖蚌埠爆炸事故死亡矿井透水被困救援消防火灾泄漏坍塌企业工厂化工煤矿应急管理演练记者报道"
)


def make_feed(index: int, *, items: int = ITEMS, encoding: str = "utf-8", newest: int | None = None) -> bytes:
    """A realistic Chinese RSS feed of `items` items (~25-character titles, ~300-character HTML summaries).

    Items are numbered; the feed lists items `newest`, `newest - 1`, ... (default
    `items - 1`). Each item's bytes depend only on (index, number), so
    `newest=items` is the same feed with one new item on top and the oldest gone.
    """
    newest = items - 1 if newest is None else newest
    parts = [
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
        f"<title>新闻源{index}</title><link>https://news{index}.example.cn/</link>"
        f"<description>安全生产新闻</description><lastBuildDate>{newest}</lastBuildDate>\n"
    ]
    for j in range(newest, newest - items, -1):
        rng = random.Random(SEED * 1_000_003 + index * 10_007 + j)
        title = "".join(rng.choices(POOL, k=25))
        body = "".join(rng.choices(POOL, k=300))
        parts.append(
            f"<item><title>{title}</title><link>https://news{index}.example.cn/a/{j}.html</link>"
            f"<guid isPermaLink='true'>https://news{index}.example.cn/a/{j}.html</guid>"
            f"<pubDate>Mon, 01 Apr 2024 {j % 24:02d}:{j % 60:02d}:00 +0800</pubDate>"
            f"<description><![CDATA[<p>{body[:150]}</p><p><img src='/i/{j}.jpg' alt='现场'/>{body[150:]}</p>]]>"
            "</description></item>\n"
        )
    parts.append("</channel></rss>\n")
    return "".join(parts).encode(encoding)


def rate(
    label: str, fn: Callable[[int], object], n: int, baseline: float | None = None, quiet: bool = False
) -> float:
    """Run fn(0..n-1), print feeds per CPU second against the anchor (and a baseline)."""
    start_cpu, start = time.process_time(), time.perf_counter()
    for i in range(n):
        fn(i)
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
    per_s = n / cpu
    if quiet:
        return per_s
    vs = f", {per_s / baseline:.1f}x feedparser.parse" if baseline else ""
    print(
        f"  {label:<44} {per_s:8.1f} feeds/s  ({n} feeds, {cpu:.2f} CPU s, {wall:.2f} s wall;"
        f" {per_s / ANCHOR_FEEDS_PER_S:.1f}x the {ANCHOR_FEEDS_PER_S:g} feeds/s anchor{vs})"
    )
    return per_s


def cold_ratio(utf8: list[bytes], n_feeds: int) -> float:
    """Median ratio over ROUNDS alternating rounds: parse_feed(decode_feed) vs feedparser.parse."""
    ratios = []
    for _ in range(ROUNDS):
        base = rate("  feedparser.parse", lambda i: feedparser.parse(utf8[i]), n_feeds, quiet=True)
        ours = rate("  parse_feed", lambda i: parse_feed(decode_feed(utf8[i], None)), n_feeds, quiet=True)
        ratios.append(ours / base)
    ratios.sort()
    median = ratios[len(ratios) // 2]
    print(
        f"  cold full parse, parse_feed(decode_feed) / feedparser.parse over {ROUNDS} rounds: median "
        f"{median:.1f}x (range {ratios[0]:.1f}-{ratios[-1]:.1f}); target >= {TARGET_RATIO:g}x: "
        f"{'met' if median >= TARGET_RATIO else 'MISSED'}"
    )
    return median


def main(n_feeds: int = N_FEEDS) -> None:
    """Print parse rates for `n_feeds` feeds in UTF-8 and GBK, whole and with one new item."""
    utf8 = [make_feed(i) for i in range(n_feeds)]
    gbk = [make_feed(i, encoding="gbk") for i in range(n_feeds)]
    newer = [decode_feed(make_feed(i, newest=ITEMS), None) for i in range(n_feeds)]
    keys = [parse_feed(decode_feed(b, None)).item_keys for b in utf8]
    size = sum(map(len, utf8)) / len(utf8)
    print(f"parsing: {ITEMS}-item Chinese feeds, {size / 1024:.0f} KiB each (UTF-8)")
    rate("decode_feed, UTF-8", lambda i: decode_feed(utf8[i], None), n_feeds)
    rate("decode_feed, GBK", lambda i: decode_feed(gbk[i], None), n_feeds)
    base = rate("feedparser.parse (baseline), UTF-8", lambda i: feedparser.parse(utf8[i]), n_feeds)
    rate("parse_feed(decode_feed), UTF-8", lambda i: parse_feed(decode_feed(utf8[i], None)), n_feeds, base)
    rate("parse_feed(decode_feed), GBK", lambda i: parse_feed(decode_feed(gbk[i], None)), n_feeds, base)
    rate(
        "parse_feed(reference=True), feedparser only",
        lambda i: parse_feed(decode_feed(utf8[i], None), reference=True),
        n_feeds,
        base,
    )
    try:
        import fastfeedparser

        rate("fastfeedparser.parse (comparison)", lambda i: fastfeedparser.parse(utf8[i]), n_feeds, base)
    except ImportError:
        pass
    rate(
        "parse_feed, one new item (skip_items)",
        lambda i: parse_feed(newer[i], skip_items=keys[i]),
        n_feeds,
        base,
    )
    cold_ratio(utf8, n_feeds)


if __name__ == "__main__":
    main()
