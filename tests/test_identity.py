"""Report identity: one news item is one report, however it is republished."""

from __future__ import annotations

import pytest

from responder.identity import guid_is_reliable, guids_unique, normalize_link, report_identity


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://News.Example.CN/a/B.html", "https://news.example.cn/a/B.html"),  # path case kept
        ("http://news.example.cn/a.html", "https://news.example.cn/a.html"),  # http == https
        ("https://news.example.cn:443/a.html", "https://news.example.cn/a.html"),
        ("http://news.example.cn:80/a.html", "https://news.example.cn/a.html"),
        ("http://news.example.cn:8080/a.html", "https://news.example.cn:8080/a.html"),
        ("https://news.example.cn/a.html#comments", "https://news.example.cn/a.html"),
        (
            "https://news.example.cn/a.html?utm_source=wx&id=7&spm=a.b&utm_medium=s",
            "https://news.example.cn/a.html?id=7",
        ),
        (
            "https://news.example.cn/a.html?from=singlemessage&isappinstalled=0",
            "https://news.example.cn/a.html",
        ),
        (
            "https://news.example.cn/list?from=2026",
            "https://news.example.cn/list?from=2026",
        ),  # a real parameter
        ("https://news.example.cn/a?b=2&a=1", "https://news.example.cn/a?a=1&b=2"),
        ("https://news.example.cn", "https://news.example.cn/"),
        (
            "https://mp.weixin.qq.com/s?__biz=MzA5&mid=26&idx=1&sn=ab12&chksm=84&scene=21#wechat_redirect",
            "https://mp.weixin.qq.com/s?__biz=MzA5&idx=1&mid=26&sn=ab12",
        ),
        ("  https://news.example.cn/a.html  ", "https://news.example.cn/a.html"),
        ("/relative/path.html", "/relative/path.html"),
        ("", None),
        (None, None),
    ],
)
def test_normalize_link(url: str | None, expected: str | None) -> None:
    assert normalize_link(url) == expected


@pytest.mark.parametrize(
    ("guid", "reliable"),
    [
        ("https://news.example.cn/2026/11/21/c_1130.htm", True),
        ("urn:uuid:6f1c2d3e-8a9b-4c5d-9e0f-112233445566", True),
        ("tag:news.example.cn,2026:article-88123", True),
        ("88123", False),  # bare CMS row id
        ("  ", False),
        (None, False),
        ("a1b2", False),  # short token
        ("https://news.example.cn/", False),  # a home page is not an item
        ("/html/2026/1121/88123.html", False),  # relative: unique only within one site
    ],
)
def test_guid_reliability(guid: str | None, reliable: bool) -> None:
    assert guid_is_reliable(guid) is reliable


def test_changed_guid_same_link_is_same_identity() -> None:
    # a CMS republishes the item under a new row id; the address stays
    first = report_identity("8812", "http://www.example.cn/news/2026/1121/a.html", "淮南化工厂爆炸")
    again = report_identity(
        "8830", "https://www.example.cn/news/2026/1121/a.html?utm_source=rss", "淮南化工厂爆炸"
    )
    assert first == again == "https://www.example.cn/news/2026/1121/a.html"


def test_reliable_guid_is_used() -> None:
    ident = report_identity("urn:uuid:6f1c2d3e-8a9b-4c5d-9e0f-112233445566", "https://a.cn/x.html", "t")
    assert ident == "urn:uuid:6f1c2d3e-8a9b-4c5d-9e0f-112233445566"


def test_url_guid_equals_link_identity() -> None:
    # when a feed later drops guids, the link-based identity is the same string
    assert report_identity("http://a.cn/x.html#top", None, "t") == report_identity(
        None, "https://a.cn/x.html", "t"
    )


def test_missing_guid_falls_back_to_link() -> None:
    assert report_identity(None, "https://a.cn/x.html", "标题") == "https://a.cn/x.html"
    assert report_identity("", "https://a.cn/x.html", "标题") == "https://a.cn/x.html"


def test_missing_link_falls_back_to_hash_of_title() -> None:
    a = report_identity(None, None, "淮北煤矿透水 5人被困")
    assert a.startswith("sha1:") and len(a) == 5 + 40
    assert a == report_identity("12", None, "淮北煤矿透水 5人被困")
    assert a != report_identity(None, None, "淮北煤矿透水 3人获救")


def test_home_page_link_falls_back_to_hash() -> None:
    # feeds that give every item the site's home page as link must not merge all items
    a = report_identity(None, "http://www.example.cn/", "第一条")
    b = report_identity(None, "http://www.example.cn/", "第二条")
    assert a != b and a.startswith("sha1:")


def test_feed_with_repeated_guids_is_not_trusted() -> None:
    guids = ["tag:example.cn,2026:feed", "tag:example.cn,2026:feed"]
    assert not guids_unique(guids)
    assert guids_unique(["tag:example.cn,2026:a", "tag:example.cn,2026:b", None, ""])
    ident = report_identity(guids[0], "https://example.cn/a.html", "t", feed_guids_unique=False)
    assert ident == "https://example.cn/a.html"
