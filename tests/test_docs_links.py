"""Every relative link in README.md and docs/*.md leads somewhere: the file exists and the
`#anchor` is a heading of it under GitHub's anchor rules (Chinese headings included), so
moving a section between the README, the reference and the design notes cannot leave a
reader at a dead link."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# The Chinese operator guide: something must link to it.
OPERATOR_GUIDE = ROOT / "docs" / "使用手册.md"

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
# An ATX heading; a closing run of `#` after a space is no part of its text.
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target) or [text](target "title"); the text may hold one level of brackets.
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading's text: the rendered text lower-cased, every
    character but letters, marks, numbers, `_`, `-` and spaces dropped, spaces turned to
    `-` (each one: "a · b" becomes "a--b"). Chinese characters are letters and stay;
    full-width punctuation (：，（）、) goes like ASCII punctuation."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link reads as its text
    text = re.sub(r"<[^>]+>", "", text)  # HTML tags render to nothing
    text = text.replace("`", "").replace("*", "")
    kept = [
        ch
        for ch in text.lower()
        if ch in "-_ " or unicodedata.category(ch)[0] in "LMN" or unicodedata.category(ch) == "Pc"
    ]
    return "".join(kept).replace(" ", "-")


def _outside_code(text: str) -> list[tuple[int, str]]:
    """The document's lines outside fenced code blocks, numbered from 1."""
    lines: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)[0] * len(opened.group(1))
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            lines.append((number, line))
    return lines


def anchors_of(path: Path) -> set[str]:
    """Every anchor a Markdown file offers: its headings' (the second heading of one name
    gets `-1`, the third `-2`, as on GitHub) and explicit `<a id=…>` ones."""
    seen: dict[str, int] = {}
    anchors: set[str] = set()
    for _, line in _outside_code(path.read_text(encoding="utf-8")):
        anchors.update(_HTML_ANCHOR.findall(line))
        heading = _HEADING.match(line)
        if not heading:
            continue
        slug = github_anchor(heading.group(2))
        unique = slug
        while unique in seen:
            seen[slug] += 1
            unique = f"{slug}-{seen[slug]}"
        seen[unique] = 0
        anchors.add(unique)
    return anchors


@dataclass(frozen=True)
class Link:
    """One relative link: where it is written and where it leads."""

    source: Path
    name: str
    line: int
    target: str

    def resolved(self) -> tuple[Path, str]:
        """The file the link opens (its own file for `#anchor`) and the anchor, if any."""
        path, _, anchor = self.target.partition("#")
        file = (self.source.parent / unquote(path)).resolve() if path else self.source
        return file, unquote(anchor)

    def __str__(self) -> str:
        return f"{self.name}:{self.line}: ({self.target})"


def links_in(path: Path, root: Path = ROOT) -> list[Link]:
    """The relative links of a Markdown file, outside code blocks and code spans; a link's
    text may run over a line break."""
    name = str(path.relative_to(root))
    numbered = _outside_code(path.read_text(encoding="utf-8"))
    # Runs of consecutive lines, searched as one text so a wrapped link is found.
    runs: list[list[tuple[int, str]]] = []
    for number, line in numbered:
        if runs and runs[-1][-1][0] == number - 1:
            runs[-1].append((number, line))
        else:
            runs.append([(number, line)])
    found: list[Link] = []
    for run in runs:
        prose = "\n".join(_CODE_SPAN.sub(lambda m: "x" * len(m.group(0)), line) for _, line in run)
        for match in _LINK.finditer(prose):
            target = match.group(1)
            if not _SCHEME.match(target):
                end_line = run[0][0] + prose.count("\n", 0, match.end())
                found.append(Link(path, name, end_line, target))
    return found


def broken(links: list[Link]) -> list[str]:
    """One sentence per link that leads nowhere: its place, its target and what is missing."""
    problems: list[str] = []
    anchors: dict[Path, set[str]] = {}
    for link in links:
        file, anchor = link.resolved()
        if not file.exists():
            problems.append(f"{link}: no file {file}")
        elif anchor and file.suffix == ".md":
            if file not in anchors:
                anchors[file] = anchors_of(file)
            if anchor not in anchors[file]:
                problems.append(f"{link}: {file.name} has no heading with the anchor #{anchor}")
    return problems


def _to_guide(link: Link) -> bool:
    return link.resolved()[0] == OPERATOR_GUIDE.resolve()


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    assert broken(links_in(document)) == []


def test_links_to_the_operator_guide() -> None:
    to_guide = [link for document in DOCUMENTS for link in links_in(document) if _to_guide(link)]
    assert to_guide, "nothing links to the operator guide"
    assert broken(to_guide) == []


def test_readme_lists_every_document() -> None:
    targets = {link.resolved()[0] for link in links_in(ROOT / "README.md")}
    for document in ("docs/使用手册.md", "docs/reference.md", "docs/design.md"):
        assert (ROOT / document).resolve() in targets, f"README.md does not link {document}"


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("`scan --json`", "scan---json"),
        ("Telegram delivery (the outbox)", "telegram-delivery-the-outbox"),
        ("Chat channels: WeCom, DingTalk, Feishu", "chat-channels-wecom-dingtalk-feishu"),
        ("Next year's calendar", "next-years-calendar"),
        ("`web` in feeds.yaml", "web-in-feedsyaml"),
        ("二、回应解读情况", "二回应解读情况"),
        ("值班员：确认与完成（按钮）", "值班员确认与完成按钮"),
        ("第 1 步 · 安装 `responder`", "第-1-步--安装-responder"),
        ("**收到告警**之后 [看板](#x)", "收到告警之后-看板"),
    ],
)
def test_anchor_rules_are_githubs(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


def test_a_broken_link_is_named(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    guide = tmp_path / "docs" / "guide.md"
    guide.write_text(
        "# 使用说明\n\n## 一、值班（白天）\n\n## Tests\n\n## Tests\n\n## C# ##\n", encoding="utf-8"
    )
    readme = tmp_path / "README.md"
    readme.write_text(
        "\n".join(
            [
                "# Title",
                "[ok](docs/guide.md#一值班白天) [ok](docs/guide.md#tests-1) [ok](#title) [ok](docs/guide.md#c)",
                "[encoded](docs/guide.md#%E4%B8%80%E5%80%BC%E7%8F%AD%E7%99%BD%E5%A4%A9)",
                "[gone](docs/missing.md) [no anchor](docs/guide.md#tests-2) [web](https://example.org/x)",
                "a link [wrapped over",
                "a line](docs/guide.md#一值班) ends here",
                "`[in code](nowhere.md)`",
                "```",
                "[in a fence](nowhere.md)",
                "```",
            ]
        ),
        encoding="utf-8",
    )
    problems = broken(links_in(readme, tmp_path))
    assert len(problems) == 3, problems
    assert "README.md:4: (docs/missing.md): no file" in problems[0]
    assert (
        problems[1]
        == "README.md:4: (docs/guide.md#tests-2): guide.md has no heading with the anchor #tests-2"
    )
    assert (
        problems[2] == "README.md:6: (docs/guide.md#一值班): guide.md has no heading with the anchor #一值班"
    )
