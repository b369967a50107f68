"""Regenerate the feed byte files in this directory: `python tests/data/feeds/make_feeds.py`.

Each file is a feed as a Chinese site really serves it; the tests read the bytes
as they are on disk, so a change here shows up as a diff of binary files.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent

SIMPLIFIED = [
    ("合肥市一化工厂发生爆炸 已造成3人死亡", "<p>4月1日，合肥市某化工厂发生爆炸，<b>3人死亡</b>。</p>"),
    ("芜湖一在建工地坍塌 2人受伤", "<p>芜湖市一在建工地发生坍塌，2人受伤送医。</p>"),
    ("淮南煤矿透水事故救援进展", "<p>淮南某煤矿发生透水，井下12人被困，救援正在进行。</p>"),
]
# GBK-only characters under a gb2312 label: 朱镕基's 镕, 陶喆's 喆, 臺.
GBK_ONLY = [
    ("安全生产专家张喆解读化工事故", "<p>张喆表示，应急预案要落到实处。</p>"),
    ("回顾朱镕基时期的安全生产立法", "<p>镕字在GB2312中没有。</p>"),
    ("臺风过境 宿州一厂房屋顶坍塌", "<p>臺字只在GBK中。</p>"),
]
# 䶮 (U+4DAE) is four bytes in GB18030 and absent from GBK.
GB18030_ONLY = [("刘䶮故里蚌埠一仓库火灾 无人员伤亡", "<p>仓库起火，火势已被控制。</p>")]
TRADITIONAL = [
    ("臺北市一工廠發生火災 造成2人死亡", "<p>臺北市某工廠今晨起火，兩人不幸罹難。</p>"),
    ("高雄氣爆事故調查報告出爐", "<p>調查指出管線腐蝕導致洩漏。</p>"),
    ("礦坑坍塌 三名礦工受困", "<p>搜救人員正全力營救。</p>"),
]


def rss(items: list[tuple[str, str]], *, encoding: str | None, title: str = "安徽新闻") -> str:
    decl = f'<?xml version="1.0" encoding="{encoding}"?>\n' if encoding else ""
    body = "".join(
        f"<item><title>{t}</title><link>https://news.example.cn/a/{i}.html</link>"
        f"<guid>https://news.example.cn/a/{i}.html</guid>"
        f"<pubDate>Mon, 01 Apr 2024 0{i}:30:00 +0800</pubDate>"
        f"<description><![CDATA[{s}]]></description></item>\n"
        for i, (t, s) in enumerate(items, start=1)
    )
    return f'{decl}<rss version="2.0"><channel><title>{title}</title>\n{body}</channel></rss>\n'


def atom(items: list[tuple[str, str]]) -> str:
    body = "".join(
        f'<entry><title>{t}</title><link href="https://gov.example.cn/zc/{i}"/>'
        f"<id>urn:zc:{i}</id><updated>2024-04-0{i}T09:00:00+08:00</updated>"
        f'<summary type="html">{s.replace("<", "&lt;").replace(">", "&gt;")}</summary></entry>\n'
        for i, (t, s) in enumerate(items, start=1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>省政府最新政策</title><id>urn:zc</id><updated>2024-04-03T09:00:00+08:00</updated>\n{body}</feed>\n"
    )


def main() -> None:
    files: dict[str, bytes] = {
        "utf8.xml": rss(SIMPLIFIED, encoding="utf-8").encode("utf-8"),
        "gbk.xml": rss(SIMPLIFIED, encoding="GBK").encode("gbk"),
        "gb2312_gbk_chars.xml": rss(GBK_ONLY, encoding="gb2312").encode("gbk"),
        "gb18030.xml": rss(SIMPLIFIED + GB18030_ONLY, encoding="GB18030").encode("gb18030"),
        "big5.xml": rss(TRADITIONAL, encoding="big5", title="臺灣新聞").encode("big5"),
        # No XML declaration at all: only the HTTP header says gbk.
        "no_declaration_gbk.xml": rss(SIMPLIFIED, encoding=None).encode("gbk"),
        "atom.xml": atom(SIMPLIFIED).encode("utf-8"),
    }
    # A CMS that cuts summaries by bytes: the first summary ends in the first two
    # of the three bytes of 亡, so the file is UTF-8 except for one spot.
    good = rss(SIMPLIFIED, encoding="utf-8").encode("utf-8")
    cut = "3人死亡".encode()
    assert good.count(cut + b"</b>") == 1
    files["utf8_broken_byte.xml"] = good.replace(cut + b"</b>", cut[:-1] + b"</b>")
    # The connection dropped in the middle of the third item.
    full = rss(SIMPLIFIED, encoding="utf-8").encode("utf-8")
    files["truncated.xml"] = full[: full.index("淮南".encode())]
    files["not_a_feed.html"] = (
        "<html><head><title>404 页面不存在</title></head><body>找不到</body></html>".encode()
    )
    for name, data in files.items():
        (HERE / name).write_bytes(data)


if __name__ == "__main__":
    main()
