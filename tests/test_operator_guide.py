"""The Chinese operator guide (docs/使用手册.md) names only commands and fields the program has.

Staff follow the guide word for word, so a command it shows that the program lacks, a flag a
sub-command does not take, or a configuration field `check-config` would refuse is a guide
that lies to them. The sets it is checked against come from the code itself: the argument
parser (`responder.cli.build_parser`), the chat's command table (`responder.chat.table`) and
the configuration models (`FeedsConfig`, `Roster`, `Playbook`). It also fails when a command
or a feeds.yaml / roster.yaml / playbook field exists but the guide does not mention it, so a
new one cannot be added without telling the staff.

How the guide marks what is checked:
- `main.py SUB [SUBSUB] [--flag …]` anywhere (prose, tables, code blocks);
- `/command` anywhere, except on lines about @BotFather (whose commands are Telegram's);
- field tables: a Markdown table whose first header cell says 字段 and names, in code spans,
  the file (`feeds.yaml`, `roster.yaml`, `playbooks/*.yaml`) and optionally the section
  (`polling`, `sources[]`, `chats.duty` …); each row's first cell holds field paths relative
  to it;
- dotted paths in code spans in prose (`web.public_url`, `calendar.schedule_file`).
"""

from __future__ import annotations

import argparse
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel
from test_catalogue_punctuation import ascii_punctuation_beside_chinese

from responder.chat.table import ALIASES, COMMANDS
from responder.cli import build_parser
from responder.config import FeedsConfig
from responder.playbook import Playbook
from responder.roster import Roster

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "使用手册.md"

FILES: dict[str, type[BaseModel]] = {
    "feeds.yaml": FeedsConfig,
    "roster.yaml": Roster,
    "playbooks/*.yaml": Playbook,
}

# --------------------------------------------------------------------------- the program's sets


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """Every sub-command as typed ("status", "report annual", "web passwd") → its parser."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found[f"{prefix}{name}"] = sub
                    walk(sub, f"{prefix}{name} ")

    walk(build_parser(), "")
    return found


def chat_commands() -> set[str]:
    """Every chat command the bot answers, aliases included."""
    return {c.name for c in COMMANDS} | set(ALIASES)


def _unwrap(tp: object) -> tuple[object, bool]:
    """(the model or leaf type inside Optional/Annotated/list, whether a list was crossed)."""
    is_list = False
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, is_list
            tp = args[0]
        elif origin is list:
            tp, is_list = typing.get_args(tp)[0], True
        else:
            return tp, is_list


def _fields(model: type[BaseModel]) -> dict[str, tuple[object, bool]]:
    """A model's fields by the name people write (the alias where there is one)."""
    return {(info.alias or name): _unwrap(info.annotation) for name, info in model.model_fields.items()}


def _is_model(tp: object) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


_PATH = re.compile(r"^[a-z_]+(\[\])?(\.[a-z_]+(\[\])?)*$")


def resolve(model: type[BaseModel], path: str) -> str | None:
    """None when `path` (`polling.interval`, `sources[].kind`) names a field of `model`, else
    what is wrong with it."""
    current: object = model
    for segment in path.split("."):
        name = segment.removesuffix("[]")
        if not _is_model(current):
            return f"{name!r}: the field before it has no fields"
        assert isinstance(current, type)
        known = _fields(current)
        if name not in known:
            return f"{name!r} is not a field (fields: {', '.join(sorted(known))})"
        current, is_list = known[name]
        if segment.endswith("[]") and not is_list:
            return f"{name!r} is not a list"
    return None


# --------------------------------------------------------------------------- reading the guide


@dataclass
class Guide:
    """What the guide names, each with the line it is on."""

    commands: list[tuple[int, str, list[str]]] = field(default_factory=list)  # sub-command, flags
    chat: list[tuple[int, str]] = field(default_factory=list)
    rows: list[tuple[int, str, str]] = field(default_factory=list)  # file, full field path
    sections: set[tuple[str, str]] = field(default_factory=set)  # (file, base) of field tables
    prose_paths: list[tuple[int, str]] = field(default_factory=list)
    yaml_blocks: list[tuple[int, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_MAIN = re.compile(r"main\.py(\s[^`\n]*)")
# Where a shell command line ends: a pipe, a redirection, the next command, a comment.
_SHELL_END = re.compile(r"^(\||\|\||&&|;|>|2>|>>|#.*)$")
_CHAT = re.compile(r"(?<![A-Za-z0-9_/.:~@#=%$-])/([a-z][a-z_]*)(?![A-Za-z0-9_/.-])")
_SPAN = re.compile(r"`([^`]+)`")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")  # an address's path is no chat command
_FILE_EXTENSIONS = ("yaml", "yml", "py", "md", "service", "sqlite3", "txt", "png", "csv", "xlsx", "json")


def _command_in(rest: str) -> tuple[str, list[str]]:
    """The sub-command a `main.py …` command line names, and the flags it gives (`[--week 周]`
    as a usage line writes an optional flag counts too)."""
    words: list[str] = []
    for word in rest.split():
        if _SHELL_END.match(word):
            break
        words.append(word.strip("'\""))
    words = [w for w in words if w not in ("-v", "--verbose")] or [""]
    name = words[0]
    if len(words) > 1 and f"{name} {words[1]}" in subcommands():
        name = f"{name} {words[1]}"
    flags = [w.lstrip("[").rstrip("]").split("=", 1)[0] for w in words]
    return name, [f for f in flags if f.startswith("-")]


def _table_cells(line: str) -> list[str]:
    # A `|` inside a code span (`text\|csv`) is Markdown's escaped pipe, not a cell border.
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip() for c in cells]


def _dotted_paths(text: str) -> list[str]:
    """Code spans that read as a field path with a section (`web.public_url`, `sources[].kind`)."""
    return [
        span
        for span in _SPAN.findall(text)
        if ("." in span or "[]" in span)
        and _PATH.match(span)
        and span.rsplit(".", 1)[-1] not in _FILE_EXTENSIONS
    ]


class _Reader:
    """Reads the guide line by line: commands anywhere; tables, prose and YAML blocks apart."""

    def __init__(self) -> None:
        self.g = Guide()
        self.fence: str | None = None  # the language of the fenced block we are in
        self.block: list[str] = []
        self.block_line = 0
        self.table_base: tuple[str, str] | None = None
        self.in_table = False

    def line(self, n: int, line: str) -> None:
        g = self.g
        for m in _MAIN.finditer(line):
            g.commands.append((n, *_command_in(m.group(1))))
        if "BotFather" not in line:  # @BotFather's own commands are Telegram's, not ours
            g.chat += [(n, m.group(1)) for m in _CHAT.finditer(_URL.sub(" ", line))]
        if line.lstrip().startswith("```"):
            self.fenced(n, line.strip()[3:].strip())
        elif self.fence is not None:
            self.block.append(line)
        elif line.lstrip().startswith("|"):
            self.table_row(n, _table_cells(line), set(line) <= set("|-: "))
        else:
            self.in_table = False
            g.prose_paths += [(n, p) for p in _dotted_paths(line)]

    def fenced(self, n: int, language: str) -> None:
        if self.fence is None:
            self.fence, self.block, self.block_line = language, [], n + 1
            return
        if self.fence == "yaml":
            self.g.yaml_blocks.append((self.block_line, "\n".join(self.block)))
        self.fence = None

    def table_row(self, n: int, cells: list[str], separator: bool) -> None:
        g = self.g
        if not self.in_table:  # the header row
            self.in_table, self.table_base = True, None
            if "字段" in cells[0]:
                spans = _SPAN.findall(cells[0])
                if not spans or spans[0] not in FILES:
                    g.problems.append(f"line {n}: a field table must name its file first: {cells[0]}")
                else:
                    self.table_base = (spans[0], spans[1] if len(spans) > 1 else "")
                    g.sections.add(self.table_base)
            return
        if separator:
            return
        described = cells
        if self.table_base is not None:
            file, base = self.table_base
            for span in _SPAN.findall(cells[0]):
                g.rows.append((n, file, f"{base}.{span}" if base else span))
            described = cells[1:]
        g.prose_paths += [(n, p) for cell in described for p in _dotted_paths(cell)]


def read(text: str) -> Guide:
    """Everything `text` (the guide, or a piece of Markdown in the guide's conventions) names."""
    reader = _Reader()
    for n, line in enumerate(text.splitlines(), 1):
        reader.line(n, line)
    return reader.g


@pytest.fixture(scope="module")
def guide() -> Guide:
    return read(GUIDE.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- checks


def unknown_subcommands(g: Guide) -> list[str]:
    """Each `main.py` command the program does not have (a group such as `report` alone is not
    a command), or a flag its sub-command does not take."""
    known = subcommands()
    top = build_parser()._option_string_actions
    wrong = []
    for n, name, flags in g.commands:
        parser = known.get(name)
        if parser is None or parser._subparsers is not None:
            wrong.append(f"line {n}: main.py {name}")
            continue
        wrong += [
            f"line {n}: main.py {name} {flag}"
            for flag in flags
            if flag not in parser._option_string_actions and flag not in top
        ]
    return wrong


def unknown_chat_commands(g: Guide) -> list[str]:
    """Each `/command` of the guide that the bot does not answer."""
    known = chat_commands()
    return [f"line {n}: /{name}" for n, name in g.chat if name not in known]


def _key_paths(data: object, prefix: str = "") -> Iterator[str]:
    """Every key of a YAML document as a field path (`chats.duty.wecom.key_env`, `people[].name`)."""
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path
            yield from _key_paths(value, path)
    elif isinstance(data, list):
        for item in data:
            yield from _key_paths(item, f"{prefix}[]")


def unknown_fields(g: Guide) -> list[str]:
    """Field-table rows, dotted paths in prose and keys of YAML examples that name no field of
    their file's model."""
    wrong = [
        f"line {n}: {file} {path}: {why}" for n, file, path in g.rows if (why := resolve(FILES[file], path))
    ]
    for file, base in g.sections:
        if base and (why := resolve(FILES[file], base)):
            wrong.append(f"{file} section {base}: {why}")
    roots = {name: file for file, model in FILES.items() for name in _fields(model)}
    for n, path in g.prose_paths:
        root = path.split(".")[0].removesuffix("[]")
        if root in roots and (why := resolve(FILES[roots[root]], path)):
            wrong.append(f"line {n}: `{path}` ({roots[root]}): {why}")
    for n, block in g.yaml_blocks:
        paths = list(_key_paths(yaml.safe_load(block)))
        # An example is a piece of one of the files: some file must have every key it shows.
        misses = {file: [p for p in paths if resolve(model, p)] for file, model in FILES.items()}
        if paths and all(misses.values()):
            best = min(misses, key=lambda f: len(misses[f]))
            wrong.append(f"YAML example at line {n}: {best} has no {', '.join(misses[best])}")
    return wrong


def _required(model: type[BaseModel], base: str, sections: set[str]) -> Iterator[str]:
    """The field paths the guide must mention: every field of every section it has a table for
    (a section holding such a table counts, as `escalation` holds `escalation.levels`)."""
    for name, (tp, _) in _fields(model).items():
        path = f"{base}.{name}" if base else name
        if _is_model(tp) and any(s == path or s.startswith(path + ".") for s in sections):
            assert isinstance(tp, type)
            yield from _required(tp, path, sections)
        else:
            yield path


def undocumented_fields(g: Guide) -> list[str]:
    """Fields of each configuration file that no field-table row mentions."""
    missing = []
    for file, model in FILES.items():
        rows = {path.replace("[]", "") for _, f, path in g.rows if f == file}
        sections = {base.replace("[]", "") for f, base in g.sections if f == file}
        if "" not in sections:
            missing.append(f"{file}: no table of its top-level fields")
            continue
        for path in _required(model, "", sections):
            if not any(r == path or r.startswith(path + ".") for r in rows):
                missing.append(f"{file}: {path}")
    return missing


def test_every_main_py_command_in_the_guide_exists(guide: Guide) -> None:
    assert guide.commands, "the guide shows no main.py command at all"
    assert unknown_subcommands(guide) == []


def test_every_chat_command_in_the_guide_exists(guide: Guide) -> None:
    assert guide.chat, "the guide shows no chat command at all"
    assert unknown_chat_commands(guide) == []


def test_every_field_in_the_guide_exists(guide: Guide) -> None:
    assert guide.problems == []
    assert guide.rows, "the guide has no field table"
    assert unknown_fields(guide) == []


def test_the_guide_covers_every_command(guide: Guide) -> None:
    named = {name for _, name, _ in guide.commands}
    leaves = {name for name, p in subcommands().items() if p._subparsers is None}
    assert sorted(leaves - named) == [], "sub-commands the guide never shows"
    missing_chat = {c.name for c in COMMANDS} - {name for _, name in guide.chat}
    assert sorted(missing_chat) == [], "chat commands the guide never shows"


def test_the_guide_covers_every_configuration_field(guide: Guide) -> None:
    assert undocumented_fields(guide) == []


def test_the_guide_writes_chinese_punctuation_full_width() -> None:
    wrong = []
    fenced = False
    for n, line in enumerate(GUIDE.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            wrong += [f"line {n}: {found}" for found in ascii_punctuation_beside_chinese(line)]
    assert wrong == []


# --------------------------------------------------------------------------- the checks can fail

_INVENTED = """\
## 配置
运行 `python main.py backup --now` 备份，或 `python main.py summary --weeks 3`，或 `python main.py report yearly`。
在群里发 /escalate 12；网页在 `http://127.0.0.1:8080/ledger`，路由 `/gov/zhengce/zuixin`，通知 https://www.gov.cn/…/content_….htm。
向 @BotFather 发送 /newbot。
改 `web.public_address` 和 `polling.interval`，以及 `calendar.deadline_at`、`rotation.handoff`。

| 字段（`feeds.yaml` → `polling`） | 默认值 |
|---|---|
| `interval` | `5m` |
| `intervall` | `5m` |

| 字段（`roster.yaml`） | 含义 |
|---|---|
| `people` | 名单 |

| 字段 | 含义 |
|---|---|
| `x` | 没写文件 |

```yaml
rotation:
  handoff: "09:00"
```
"""


def test_invented_names_are_caught() -> None:
    g = read(_INVENTED)
    assert unknown_subcommands(g) == [
        "line 2: main.py backup",
        "line 2: main.py summary --weeks",
        "line 2: main.py report",
    ]
    assert unknown_chat_commands(g) == ["line 3: /escalate"]  # not the web page, the route, BotFather's
    wrong = unknown_fields(g)
    assert any("intervall" in w for w in wrong)
    assert any("web.public_address" in w for w in wrong)
    assert any("line 5: `rotation.handoff`" in w for w in wrong)
    assert any(w.startswith("YAML example at line 21: roster.yaml has no rotation.handoff") for w in wrong)
    assert not any("polling.interval " in w or "calendar.deadline_at" in w for w in wrong)
    assert g.problems and "must name its file" in g.problems[0]
    missing = undocumented_fields(g)
    assert "feeds.yaml: no table of its top-level fields" in missing
    assert "roster.yaml: chats" in missing and "feeds.yaml: polling.timeout" not in missing


def test_a_field_table_requires_the_fields_of_its_section() -> None:
    g = read(
        "| 字段（`feeds.yaml`） |\n|---|\n| `polling` |\n\n| 字段（`feeds.yaml` → `polling`） |\n|---|\n| `interval` |\n"
    )
    missing = undocumented_fields(g)
    assert "feeds.yaml: polling.timeout" in missing and "feeds.yaml: polling.interval" not in missing
    assert "feeds.yaml: sources" in missing
