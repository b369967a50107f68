"""Other projects' encoding and ill-formed feed fixtures: what we read correctly, against plain feedparser.

Run: .venv/bin/python bench/bench_fixtures.py CHECKOUT [CHECKOUT ...]

Each CHECKOUT is a checkout of kurtmckee/feedparser (its tests/encoding and
tests/illformed fixtures are read) or of miniflux/v2 (internal/reader/encoding/testdata
and internal/reader/parser/testdata/*encoding*), or a bare git directory of one (as the
`fetch` tool brings them: the fixtures are exported to a temporary directory). Nothing of
them is copied into this repository; the shapes that matter have byte-for-byte tests of
our own in tests/test_feed_encodings.py.

For every fixture the truth is the document decoded in its real encoding (byte-order
mark, the fixture's stated expectation, the HTTP charset it is served with, its XML
declaration, else UTF-8; for miniflux: valid UTF-8, else the declaration, else
Windows-1252) and parsed by feedparser (without sanitising, as we parse). A field is right when it equals the truth's:
the feed title, and per entry its title, link and visible text (HTML reduced to what a
reader sees, so feedparser's sanitising is not counted against it). An entry is right
when all three of its fields are. Compared: plain `feedparser.parse(bytes)` with the
fixture's HTTP headers, and ours (`decode_feed` + `parse_feed`, as the service reads).
"""

from __future__ import annotations

import codecs
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import feedparser  # noqa: E402

from responder.feeds import decode_feed, parse_feed  # noqa: E402
from responder.feeds.parse import FeedParseError  # noqa: E402
from responder.text import clean_text, html_to_text  # noqa: E402

_WIDE = (
    (b"\x00\x00\xfe\xff", "utf-32-be", 4), (b"\xff\xfe\x00\x00", "utf-32-le", 4),
    (b"\x00\x00\x00\x3c", "utf-32-be", 0), (b"\x3c\x00\x00\x00", "utf-32-le", 0),
    (b"\xfe\xff", "utf-16-be", 2), (b"\xff\xfe", "utf-16-le", 2),
    (b"\x00\x3c\x00\x3f", "utf-16-be", 0), (b"\x3c\x00\x3f\x00", "utf-16-le", 0),
    (b"\xef\xbb\xbf", "utf-8", 3),
)  # fmt: skip
_EXPECT_ENCODING = re.compile(r"encoding\s*==\s*'([^']+)'")
_HEADER = re.compile(r"^Header:\s+([^:]+):(.*)$", re.M)
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']")
_DECL_ENCODING = re.compile(r"(<\?xml[^>]*?)\s+encoding=[\"'][^\"']*[\"']")
_NO_TRUTH = {"us-ascii", ""}


@dataclass
class Fixture:
    suite: str
    name: str
    data: bytes
    headers: dict[str, str]
    truth: str  # the codec the bytes really are in


@dataclass
class Tally:
    fixtures: int = 0
    fields: int = 0
    entries: int = 0
    plain_fields: int = 0
    ours_fields: int = 0
    plain_entries: int = 0
    ours_entries: int = 0


def materialise(path: Path, subdirs: list[str], tmp: Path) -> Path:
    """A directory holding the checkout's files: the path itself, or an export of a bare repository."""
    if not ((path / "HEAD").is_file() and (path / "objects").is_dir()):
        return path
    out = tmp / path.parent.name
    out.mkdir(parents=True, exist_ok=True)
    listing = subprocess.run(
        ["git", f"--git-dir={path}", "ls-tree", "--name-only", "HEAD", "--", *subdirs],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    if listing:
        archive = subprocess.run(
            ["git", f"--git-dir={path}", "archive", "HEAD", *listing], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def _wide(data: bytes) -> str | None:
    for mark, codec, _ in _WIDE:
        if data.startswith(mark):
            return codec
    return None


def _known(label: str) -> bool:
    try:
        codecs.lookup(label)
    except LookupError:
        return False
    return label not in _NO_TRUTH


def _truth_feedparser(data: bytes, headers: dict[str, str]) -> str:
    wide = _wide(data)
    if wide:
        return wide
    comment = data.decode("latin-1")
    m = _EXPECT_ENCODING.search(comment)
    if m and _known(m.group(1).lower()):
        label = m.group(1).lower()
        return "gb18030" if label == "gb2312" else label
    charset = re.search(r"charset\s*=\s*[\"']?([\w-]+)", headers.get("content-type", ""))
    if charset and _known(charset.group(1).lower()):
        return charset.group(1).lower()
    declared = _DECLARED.match(data)
    if declared and _known(declared.group(1).decode().lower()):
        return declared.group(1).decode().lower()
    return "utf-8"


def _truth_miniflux(data: bytes) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        declared = _DECLARED.match(data)
        return (
            declared.group(1).decode().lower()
            if declared and _known(declared.group(1).decode())
            else "cp1252"
        )
    return "utf-8"


def fixtures(root: Path, tmp: Path) -> list[Fixture]:
    """The fixtures of one checkout (feedparser's or miniflux's), with their true encodings."""
    found: list[Fixture] = []
    fp = materialise(root, ["tests/encoding", "tests/illformed"], tmp)
    for suite in ("encoding", "illformed"):
        for f in sorted((fp / "tests" / suite).rglob("*.xml")):
            data = f.read_bytes()
            headers = {k.strip().lower(): v.strip() for k, v in _HEADER.findall(data.decode("latin-1"))}
            if "http" in f.name:
                headers.setdefault("content-type", "text/xml")
            name = str(f.relative_to(fp / "tests"))
            found.append(
                Fixture(f"feedparser/{suite}", name, data, headers, _truth_feedparser(data, headers))
            )
    mf = materialise(root, ["internal/reader/encoding/testdata", "internal/reader/parser/testdata"], tmp)
    for pattern in (
        "internal/reader/encoding/testdata/*.xml",
        "internal/reader/parser/testdata/*ncoding*.xml",
    ):
        for f in sorted(mf.glob(pattern)):
            data = f.read_bytes()
            found.append(Fixture("miniflux", f.name, data, {}, _truth_miniflux(data)))
    return found


def _text(value: Any) -> str:
    return " ".join(clean_text(html_to_text(str(value or ""))).split())


def _visible(d: Any) -> tuple[str, list[tuple[str, str, str]]]:
    """(feed title, [(title, visible text, link)]) of a feedparser result, empty entries left out."""
    entries = []
    for e in d.entries:
        summary = e.get("summary") or ""
        for c in e.get("content") or ():
            if len(c.get("value") or "") > len(summary):
                summary = c.get("value") or ""
        row = (_text(e.get("title")), _text(summary), str(e.get("link") or "").strip())
        if any(row) or e.get("id"):
            entries.append(row)
    return _text(d.feed.get("title")), entries


def reference(fx: Fixture) -> tuple[str, list[tuple[str, str, str]]]:
    _, _, skip = next((w for w in _WIDE if fx.data.startswith(w[0])), (b"", "", 0))
    text = fx.data[skip:].decode(fx.truth, errors="replace")
    utf8 = _DECL_ENCODING.sub(r"\1", text, count=1).encode("utf-8")
    headers = {"content-type": "application/xml; charset=utf-8"}
    return _visible(
        feedparser.parse(utf8, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    )


def plain(fx: Fixture) -> tuple[str, list[tuple[str, str, str]]]:
    return _visible(feedparser.parse(fx.data, response_headers=fx.headers))


def ours(fx: Fixture) -> tuple[str, list[tuple[str, str, str]]]:
    charset = re.search(r"charset\s*=\s*[\"']?([\w-]+)", fx.headers.get("content-type", ""))
    try:
        feed = parse_feed(decode_feed(fx.data, charset.group(1) if charset else None))
    except FeedParseError:
        return "", []
    rows = [(_text(e.title), _text(e.summary_html), (e.link or "").strip()) for e in feed.entries]
    return _text(feed.title), rows


def score(got: tuple[str, list[Any]], want: tuple[str, list[Any]]) -> tuple[int, int]:
    """(fields right, entries right) of `got` against `want`."""
    fields = int(bool(want[0]) and got[0] == want[0])
    entries = 0
    for i, row in enumerate(want[1]):
        other = got[1][i] if i < len(got[1]) else ("\0", "\0", "\0")
        right = [a == b for a, b in zip(row, other, strict=True) if a]
        fields += sum(right)
        entries += all(right)
    return fields, entries


def main(paths: list[str]) -> int:
    """Print per suite: fields and entries right, plain feedparser against ours; exit 1 if ours is ever worse."""
    tallies: dict[str, Tally] = {}
    worse: list[str] = []
    better: list[str] = []
    with tempfile.TemporaryDirectory(prefix="responder-fixtures-") as tmp:
        for path in paths:
            for fx in fixtures(Path(path).resolve(), Path(tmp)):
                want = reference(fx)
                t = tallies.setdefault(fx.suite, Tally())
                t.fixtures += 1
                t.fields += int(bool(want[0])) + sum(sum(1 for x in row if x) for row in want[1])
                t.entries += len(want[1])
                pf, pe = score(plain(fx), want)
                of, oe = score(ours(fx), want)
                t.plain_fields, t.ours_fields = t.plain_fields + pf, t.ours_fields + of
                t.plain_entries, t.ours_entries = t.plain_entries + pe, t.ours_entries + oe
                if (of, oe) < (pf, pe):
                    worse.append(f"{fx.suite}/{fx.name} ({fx.truth}): ours {of}/{oe}, feedparser {pf}/{pe}")
                elif (of, oe) > (pf, pe):
                    better.append(f"{fx.suite}/{fx.name} ({fx.truth})")
    print(
        f"{'suite':<22}{'fixtures':>9}{'fields':>8}{'feedparser':>12}{'ours':>6}{'entries':>9}{'feedparser':>12}{'ours':>6}"
    )
    for suite, t in tallies.items():
        print(f"{suite:<22}{t.fixtures:>9}{t.fields:>8}{t.plain_fields:>12}{t.ours_fields:>6}"
              f"{t.entries:>9}{t.plain_entries:>12}{t.ours_entries:>6}")  # fmt: skip
    print(f"\nours right where plain feedparser is not ({len(better)}):")
    print("\n".join(f"  {b}" for b in better) or "  -")
    print(f"ours worse than plain feedparser ({len(worse)}):")
    print("\n".join(f"  {w}" for w in worse) or "  -")
    return 1 if worse else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
