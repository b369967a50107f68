"""YAML loading that remembers line numbers, so every config error names file, line and field.

Config files are small, hand-written and read by a service with alerting duties, so
the loader refuses what no hand-written config needs: files over `MAX_CONFIG_BYTES`,
YAML aliases (`*name`, the "billion laughs" expansion that would keep the loader busy
for minutes) and a key written twice in one mapping (YAML would silently keep the last).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .configwords import message_of
from .i18n import t

__all__ = [
    "MAX_CONFIG_BYTES",
    "ConfigError",
    "FieldProblems",
    "Loc",
    "Problem",
    "load_model",
    "load_yaml",
    "message_of",
    "problems_from",
    "validate_all",
]

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]

# The shipped feeds.yaml is about 10 KB; 100,000 sources (what one process polls every
# 5 minutes, see docs/design.md "Feed fetching") are about 7 MB; a config larger than that is a mistake.
MAX_CONFIG_BYTES = 16 * 1024 * 1024
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Builds plain values from scalar nodes (no anchors are possible: aliases are refused first).
_SCALARS = yaml.SafeLoader("")
_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
_DUPLICATE = object()  # the key waiting for its value was written twice: the value is skipped


class _BadTag(Exception):
    """A scalar with an explicit tag (`!!int abc`, `!unknown x`) that cannot be built."""

    def __init__(self, tag: str):
        self.tag = tag
        super().__init__(tag)


def _scalar_value(tag: str, text: str, implicit: bool) -> Any:
    """The plain value of one scalar, built by PyYAML's safe constructor from its tag.

    A tag guessed from the scalar's shape can only fail for an impossible date or time
    (`2026-13-05`, `2026-02-30 25:00:00`): the text itself is kept, so the field's own type
    says what is wrong there, at its line, beside every other problem of the file. An
    explicit tag that cannot be built raises _BadTag.
    """
    try:
        return _SCALARS.construct_object(yaml.ScalarNode(tag, text))
    except (yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError):
        if implicit:
            return text
        raise _BadTag(tag) from None
    finally:
        # The constructor remembers every node it built; config files are read again on
        # every reload, so nothing may accumulate here.
        _SCALARS.constructed_objects.clear()
        _SCALARS.recursive_objects.clear()


def _implicit(node: yaml.Node) -> bool:
    """Whether the node's tag is the one its plain text resolves to (no explicit tag)."""
    resolved = _RESOLVER.resolve(yaml.ScalarNode, node.value, (True, False))  # type: ignore[no-untyped-call]
    return bool(getattr(node, "style", None) is None and resolved == node.tag)


def _bad_tag_message(tag: str, text: str) -> str:
    shown = text if len(text) <= 40 else text[:40] + "…"
    return t("config_bad_tag", tag=tag.replace("tag:yaml.org,2002:", "!!"), value=shown)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one config file."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or t('config_top_level')}: {self.message}"


class ConfigError(Exception):
    """Raised with every problem found, not just the first, so one edit fixes them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class FieldProblems(ValueError):
    """Raised by a model validator that checks across fields: each problem names the field
    (relative to the model) it belongs to, so it is reported at that field's own line."""

    def __init__(self, items: list[tuple[Loc, str]]):
        self.items = items
        super().__init__("; ".join(message for _, message in items))


def _field_name(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Walker:
    """Turns a composed YAML node into plain data, noting the line of every field."""

    def __init__(self, file: str):
        self.file = file
        self.lines: dict[Loc, int] = {}
        self.problems: list[Problem] = []

    def walk(self, node: yaml.Node, loc: Loc) -> Any:
        """The plain value of `node` found at `loc`, noting its line and those of everything in it."""
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*loc, i)) for i, item in enumerate(node.value)]
        # Scalars: PyYAML's safe constructor resolves ints, bools, dates by the node's tag.
        return self._scalar(node, loc)

    def _scalar(self, node: yaml.Node, loc: Loc) -> Any:
        try:
            return _scalar_value(node.tag, node.value, _implicit(node))
        except _BadTag as exc:
            line = node.start_mark.line + 1
            self.problems.append(
                Problem(self.file, line, _field_name(loc), _bad_tag_message(exc.tag, node.value))
            )
            return None

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node, loc) if key_node.tag != _STR else key_node.value
            line = key_node.start_mark.line + 1
            if key in first_line:
                message = t("config_duplicate_key", first=first_line[key])
                self.problems.append(Problem(self.file, line, _field_name((*loc, key)), message))
                continue
            first_line[key] = line
            # A field is reported at its key's line: `poling:` is on the line that says so,
            # not on the first line of its block.
            self.lines[(*loc, key)] = line
            out[key] = self.walk(value_node, (*loc, key))
        return out


def _read_text(path: Path) -> str:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            message = t("config_too_large", size=size, limit=MAX_CONFIG_BYTES)
            raise ConfigError([Problem(name, None, "", message)])
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(name, None, "", t("config_file_not_found"))]) from None
    except IsADirectoryError:
        raise ConfigError([Problem(name, None, "", t("config_is_directory"))]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(name, None, "", t("config_not_utf8", reason=exc.reason))]) from None


def _syntax_problem(name: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    problem = str(exc.problem or exc.context or "")
    if "'\\t'" in problem or "\t" in problem:
        return Problem(name, line, "", t("config_tab"))
    hint = next((key for words, key in _SYNTAX_HINTS if words in problem), "config_yaml_hint_other")
    return Problem(name, line, "", t("config_yaml_syntax", hint=t(hint), detail=problem))


# PyYAML's words for the common slips, and what they usually mean in a hand-written file.
_SYNTAX_HINTS = (
    ("mapping values are not allowed", "config_yaml_hint_mapping"),
    ("could not find expected ':'", "config_yaml_hint_colon"),
    ("did not find expected key", "config_yaml_hint_indent"),
    ("expected <block end>", "config_yaml_hint_indent"),
    ("did not find expected '-' indicator", "config_yaml_hint_indent"),
    ("found unexpected end of stream", "config_yaml_hint_unclosed"),
    ("while scanning a quoted scalar", "config_yaml_hint_unclosed"),
    ("expected ',' or ']'", "config_yaml_hint_unclosed"),
    ("expected ',' or '}'", "config_yaml_hint_unclosed"),
)


def _alias_problems(name: str, text: str) -> list[Problem]:
    """Every alias in the file, found in one linear pass over the parser's events."""
    found = []
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            message = t("config_alias", anchor=event.anchor)
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            found.append(Problem(name, line, "", message))
    return found


class _Unusual(Exception):
    """A construct the event reader leaves to the node walker (explicit collection tags,
    complex keys, several documents)."""


class _EventReader:
    """Builds plain data and the line map from libyaml's events, without a node tree.

    The same result as composing and walking (`_Walker`), in a fraction of the time and
    memory: a feeds.yaml of 100,000 sources takes about a second and no tree of 700,000
    nodes. Aliases are collected as problems, keys written twice too (their values skipped).
    """

    def __init__(self, file: str):
        self.file = file
        self.lines: dict[Loc, int] = {}
        self.problems: list[Problem] = []
        self.aliases: list[Problem] = []
        # (container, its location, the key waiting for its value, first line of each key)
        self._stack: list[tuple[Any, Loc, list[Any], dict[Any, int]]] = []
        self._skip = 0  # depth inside a value being skipped (its key was written twice)
        self.root: Any = None

    def read(self, text: str) -> None:
        documents = 0
        for event in yaml.parse(text, Loader=_FAST_LOADER):
            if isinstance(event, yaml.ScalarEvent):
                self._scalar(event)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if event.tag is not None and not event.implicit:
                    raise _Unusual
                self._open({} if isinstance(event, yaml.MappingStartEvent) else [], event)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                if self._skip:
                    self._skip -= 1
                else:
                    self._stack.pop()
            elif isinstance(event, yaml.AliasEvent):
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                self.aliases.append(Problem(self.file, line, "", t("config_alias", anchor=event.anchor)))
                self._place(None, event)
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _Unusual

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        tag: str = event.tag or ""
        implicit = tag in ("", "!")
        if implicit:
            # PyYAML's resolver is untyped; it returns the tag string.
            tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        try:
            value = event.value if tag == _STR else _scalar_value(tag, event.value, implicit)
        except _BadTag as exc:
            loc = self._place(None, event)
            where = loc if loc is not None else (self._stack[-1][1] if self._stack else ())
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            message = _bad_tag_message(exc.tag, event.value)
            self.problems.append(Problem(self.file, line, _field_name(where), message))
            return
        self._place(value, event)

    def _open(self, container: Any, event: yaml.Event) -> None:
        if self._skip:
            self._skip += 1
            return
        loc = self._place(container, event)
        if loc is None:
            self._skip = 1
            return
        self._stack.append((container, loc, [], {}))

    def _place(self, value: Any, event: yaml.Event) -> Loc | None:
        """Put a value where the open container wants it; its location (None: skipped)."""
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if self._skip:
            return None
        if not self._stack:
            self.root = value
            self.lines.setdefault((), line)
            return ()
        container, loc, pending, first = self._stack[-1]
        if isinstance(container, list):
            here = (*loc, len(container))
            container.append(value)
            self.lines.setdefault(here, line)
            return here
        if not pending:  # a key
            if isinstance(value, (dict, list)):
                raise _Unusual
            if value in first:
                message = t("config_duplicate_key", first=first[value])
                self.problems.append(Problem(self.file, line, _field_name((*loc, value)), message))
                pending.append(_DUPLICATE)
                return None
            first[value] = line
            # A field is reported at its key's line, not at the first line of its block.
            self.lines[(*loc, value)] = line
            pending.append(value)
            return None
        key = pending.pop()
        if key is _DUPLICATE:
            return None
        container[key] = value
        return (*loc, key)


def load_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse a YAML file; return its data and a map from field path to line number.

    Raises ConfigError for an unreadable, oversized or malformed file, for aliases and
    for keys written twice.
    """
    name = str(path)
    text = _read_text(path)
    reader = _EventReader(name)
    try:
        reader.read(text)
    except (_Unusual, yaml.MarkedYAMLError):
        pass  # the pure-Python parser and the walker below say what is wrong, as they always have
    else:
        if reader.aliases:
            raise ConfigError(reader.aliases)
        if reader.problems:
            raise ConfigError(reader.problems)
        return ({} if reader.root is None else reader.root), reader.lines
    try:
        aliases = _alias_problems(name, text)
        if aliases:
            raise ConfigError(aliases) from None
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_problem(name, exc)]) from None
    walker = _Walker(name)
    if node is None:
        return {}, walker.lines
    data = walker.walk(node, ())
    if walker.problems:
        raise ConfigError(walker.problems)
    return data, walker.lines


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    # Pydantic may point at a field that is missing; fall back to its nearest parent.
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def problems_from(exc: ValidationError, file: str, lines: dict[Loc, int], prefix: Loc = ()) -> list[Problem]:
    """Turn a pydantic error into file/line/field problems."""
    out = []
    for err in exc.errors():
        loc = (*prefix, *(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))))
        located = (err.get("ctx") or {}).get("error")
        if isinstance(located, FieldProblems):
            for sub, message in located.items:
                where = (*loc, *sub)
                out.append(Problem(file, _line_for(where, lines), _field_name(where), message))
            continue
        out.append(Problem(file, _line_for(loc, lines), _field_name(loc), message_of(err)))
    return out


def _without(data: Any, locs: list[Loc]) -> Any:
    """A copy of `data` without the fields at `locs` (the unknown keys pydantic named)."""
    import copy

    out = copy.deepcopy(data)
    for loc in locs:
        parent = out
        try:
            for part in loc[:-1]:
                parent = parent[part]
            del parent[loc[-1]]
        except (KeyError, IndexError, TypeError):
            continue
    return out


def validate_all(model: type[M], data: Any, file: str, lines: dict[Loc, int]) -> M:
    """Validate `data`, raising ConfigError with every problem pydantic can find.

    Checks across fields run only once every field is valid, so a misspelt optional key
    would hide them; the data is validated a second time without the unknown keys, and
    what that finds is added.
    """
    try:
        return model.model_validate(data, context={"file": file})
    except ValidationError as exc:
        problems = problems_from(exc, file, lines)
        unknown = [tuple(e["loc"]) for e in exc.errors() if e["type"] == "extra_forbidden"]
    if unknown:
        try:
            model.model_validate(_without(data, unknown), context={"file": file})
        except ValidationError as again:
            problems += [p for p in problems_from(again, file, lines) if p not in problems]
    raise ConfigError(problems)


def load_model(path: Path, model: type[M]) -> M:
    """Load a YAML file into a pydantic model, raising ConfigError with lines on any mistake."""
    data, lines = load_yaml(path)
    if data is None:
        data = {}
    return validate_all(model, data, str(path), lines)
