"""The event reader (libyaml events, no node tree) reads every config file as the node walker does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from responder.configfile import ConfigError, _Walker, load_yaml

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(
    p
    for p in ROOT.rglob("*.yaml")
    if not any(part.startswith(".") or part == "node_modules" for part in p.parts)
)


def walked(path: Path) -> tuple[object, dict[tuple[str | int, ...], int]]:
    walker = _Walker(str(path))
    node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    return ({} if node is None else walker.walk(node, ())), walker.lines


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_of_the_repository_reads_the_same(path: Path) -> None:
    try:
        expected = walked(path)
    except yaml.YAMLError:
        pytest.skip("not a single YAML document")
    assert load_yaml(path) == expected


def test_values_types_lines_and_duplicates(tmp_path: Path) -> None:
    cfg = tmp_path / "x.yaml"
    cfg.write_text(
        "a: 1\nb: [yes, 2.5, '3', null, 2026-11-30]\nc:\n  - {d: x, e: 5m}\n  - y\nd: !!str 7\n",
        encoding="utf-8",
    )
    assert load_yaml(cfg) == walked(cfg)
    cfg.write_text("a: 1\nb:\n  c: 2\na:\n  - skipped\nd: 4\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_yaml(cfg)
    assert [(p.line, p.field) for p in err.value.problems] == [(4, "a")]
    cfg.write_text("a: &x 1\nb: *x\nc: *x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_yaml(cfg)
    assert [p.line for p in err.value.problems] == [2, 3]
