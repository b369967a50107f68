"""Encodings plain feedparser or our old decoder got wrong, as byte shapes of our own, served over HTTP.

The shapes come from feedparser's and miniflux's encoding fixtures (compared by
bench/bench_fixtures.py against a checkout of either); the bytes here are written for
this project. Each case fetches the bytes from 127.0.0.1 and checks the titles a user
would read, character for character.
"""

from __future__ import annotations

import codecs

import pytest
from kit.feedserver import FeedServer

from responder.config import Polling
from responder.feeds import Fetcher, Validators, parse_feed
from responder.feeds.parse import ParsedFeed

SIMPLIFIED = ["合肥市一化工厂发生爆炸 已造成3人死亡", "芜湖一在建工地坍塌 2人受伤"]
TRADITIONAL = ["臺北市一工廠發生火災 造成2人死亡", "礦坑坍塌 三名礦工受困", "高雄氣爆事故調查報告出爐"]
LATIN = ["Café de la Présentation", "Œuvre – “citée” à 10 €"]


def rss(titles: list[str], declaration: str | None = None, feed_title: str = "编码测试") -> str:
    decl = f'<?xml version="1.0" encoding="{declaration}"?>\n' if declaration else ""
    items = "".join(
        f"<item><title>{t}</title><link>https://e.example/{i}</link><description>{t}</description></item>"
        for i, t in enumerate(titles)
    )
    return f'{decl}<rss version="2.0"><channel><title>{feed_title}</title>{items}</channel></rss>'


async def served(server: FeedServer, body: bytes, content_type: str = "application/rss+xml") -> ParsedFeed:
    server.route("/f.xml", body, content_type=content_type)
    async with Fetcher(Polling()) as fetcher:
        result = await fetcher.fetch(server.url("/f.xml"), Validators())
    assert result.status == "ok" and result.text is not None, result.error
    return parse_feed(result.text)


WIDE = [
    ("utf-16-le", b"", "utf-16"),
    ("utf-16-be", b"", "utf-16"),
    ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16"),
    ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16"),
    ("utf-32-le", b"", "utf-32"),
    ("utf-32-be", b"", "utf-32"),
    ("utf-32-le", codecs.BOM_UTF32_LE, "utf-32"),
    ("utf-32-be", codecs.BOM_UTF32_BE, "utf-32"),
    ("utf-16-le", b"", None),  # no declaration at all: the zero bytes alone tell
]


@pytest.mark.parametrize(
    ("codec", "bom", "declared"), WIDE, ids=[f"{c}{'+bom' if b else ''}-{d}" for c, b, d in WIDE]
)
async def test_utf16_and_utf32_with_and_without_a_byte_order_mark(
    feed_server: FeedServer, codec: str, bom: bytes, declared: str | None
) -> None:
    feed = await served(feed_server, bom + rss(SIMPLIFIED, declared).encode(codec))
    assert feed.title == "编码测试" and [e.title for e in feed.entries] == SIMPLIFIED


async def test_utf16_with_leading_blank_lines_and_no_declaration(feed_server: FeedServer) -> None:
    feed = await served(feed_server, ("\n\n  " + rss(SIMPLIFIED)).encode("utf-16-be"))
    assert [e.title for e in feed.entries] == SIMPLIFIED


async def test_undeclared_big5_is_big5_not_gb18030_nonsense(feed_server: FeedServer) -> None:
    body = rss(TRADITIONAL, feed_title="編碼測試").encode("big5")
    body.decode("gb18030")  # the trap: these bytes are valid GB18030 too
    feed = await served(feed_server, body, "text/xml")
    assert feed.title == "編碼測試" and [e.title for e in feed.entries] == TRADITIONAL


async def test_big5_under_a_servers_default_gb2312_charset_is_still_big5(feed_server: FeedServer) -> None:
    feed = await served(
        feed_server, rss(TRADITIONAL, feed_title="編碼").encode("big5"), "text/xml; charset=gb2312"
    )
    assert [e.title for e in feed.entries] == TRADITIONAL


async def test_undeclared_gbk_stays_gb18030(feed_server: FeedServer) -> None:
    titles = [*SIMPLIFIED, "安全生产专家张喆解读化工事故"]
    feed = await served(feed_server, rss(titles).encode("gb18030"), "text/xml")
    assert [e.title for e in feed.entries] == titles


async def test_undeclared_latin1_and_windows_1252(feed_server: FeedServer) -> None:
    feed = await served(feed_server, rss(LATIN[:1], feed_title="Flux").encode("latin-1"), "text/xml")
    assert [e.title for e in feed.entries] == LATIN[:1]
    feed = await served(feed_server, rss(LATIN, feed_title="Flux").encode("cp1252"), "text/xml")
    assert [e.title for e in feed.entries] == LATIN


async def test_utf8_under_a_wrong_windows_1252_declaration_is_utf8(feed_server: FeedServer) -> None:
    feed = await served(feed_server, rss([*LATIN, *SIMPLIFIED], "windows-1252").encode("utf-8"))
    assert [e.title for e in feed.entries] == [*LATIN, *SIMPLIFIED]


async def test_invalid_bytes_after_a_utf8_byte_order_mark_lose_only_themselves(
    feed_server: FeedServer,
) -> None:
    body = codecs.BOM_UTF8 + rss(["有效的UTF-8 Espa\x00a"]).encode("utf-8").replace(b"\x00", b"\xf1")
    feed = await served(feed_server, body)
    assert feed.entries[0].title == "有效的UTF-8 Espa\ufffda"


async def test_windows_1252_code_points_stored_as_c1_controls_read_as_meant(feed_server: FeedServer) -> None:
    feed = await served(feed_server, rss(["don\x92t \x93quote\x94 \x80 5"]).encode("utf-8"))
    assert feed.entries[0].title == "don’t “quote” € 5"
