"""YAML loading that remembers line numbers, so every config error names file, line and field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["ConfigError", "Problem", "load_model", "load_yaml"]

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one config file."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or '(top level)'}: {self.message}"


class ConfigError(Exception):
    """Raised with every problem found, not just the first, so one edit fixes them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _field_name(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = (
                yaml.safe_load(yaml.serialize(key_node))
                if key_node.tag != "tag:yaml.org,2002:str"
                else key_node.value
            )
            out[key] = _walk(value_node, (*loc, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*loc, i), lines) for i, item in enumerate(node.value)]
    # Scalars: let PyYAML's safe constructor resolve ints, bools, dates.
    return yaml.safe_load(yaml.serialize(node))


def load_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse a YAML file; return its data and a map from field path to line number."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(name, None, "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(name, None, "", f"not UTF-8 text ({exc.reason})")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError([Problem(name, line, "", f"YAML syntax: {exc.problem}")]) from None
    lines: dict[Loc, int] = {}
    if node is None:
        return {}, lines
    return _walk(node, (), lines), lines


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
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling against the README)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        out.append(Problem(file, _line_for(loc, lines), _field_name(loc), msg))
    return out


def load_model(path: Path, model: type[M]) -> M:
    """Load a YAML file into a pydantic model, raising ConfigError with lines on any mistake."""
    data, lines = load_yaml(path)
    if data is None:
        data = {}
    try:
        return model.model_validate(data, context={"file": str(path)})
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, str(path), lines)) from None
