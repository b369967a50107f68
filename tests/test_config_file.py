"""feeds.yaml validation: every mistake names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from kit.enginekit import ROOT, ROSTER

from responder.cli import main
from responder.config import load_feeds
from responder.configfile import ConfigError

GOOD = """\
timezone: Asia/Shanghai
sources:
  - name: 新华网安徽
    url: https://example.org/ah.xml
  - name: 门户网站
    url: feeds/portal.xml
    kind: own
    channel: portal
schemes:
  - name: 安徽事故
    region: [安徽, 合肥]
    event: [爆炸, 坍塌]
    exclude: [演练]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "feeds.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_config_loads(tmp_path: Path) -> None:
    cfg = load_feeds(write(tmp_path, GOOD))
    assert [s.name for s in cfg.sources] == ["新华网安徽", "门户网站"]
    assert cfg.sources[1].channel == "portal"
    assert cfg.interval_of(cfg.sources[0]).total_seconds() == 300
    assert cfg.url_of(cfg.sources[1], tmp_path).startswith("file://")


def test_unknown_field_names_line_and_field(tmp_path: Path) -> None:
    bad = GOOD.replace("    kind: own\n", "    kind: own\n    chanel: weibo\n")
    with pytest.raises(ConfigError) as exc:
        load_feeds(write(tmp_path, bad))
    text = str(exc.value)
    assert "feeds.yaml:8" in text
    assert "sources[1].chanel" in text
    assert "unknown field" in text


def test_own_source_without_channel_and_bad_interval(tmp_path: Path) -> None:
    bad = GOOD.replace("    channel: portal\n", "    interval: 5 minutes\n")
    with pytest.raises(ConfigError) as exc:
        load_feeds(write(tmp_path, bad))
    problems = {p.field: p for p in exc.value.problems}
    assert "sources[1].interval" in problems
    assert problems["sources[1].interval"].line == 8
    assert "not a duration" in problems["sources[1].interval"].message


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_feeds(write(tmp_path, GOOD + "  - name: [unclosed\n"))
    assert exc.value.problems[0].line is not None
    assert "YAML syntax" in str(exc.value)


def test_check_config_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    good = write(tmp_path, GOOD + f"playbooks: {ROOT / 'playbooks'}\n")
    assert main(["check-config", "--config", str(good)]) == 0
    out = capsys.readouterr().out
    assert "2 sources" in out and "major-incident" in out
    good.write_text(GOOD.replace("event: [爆炸, 坍塌]", "event: []"), encoding="utf-8")
    (tmp_path / "roster.yaml").write_text(
        ROSTER.replace("policy_office: -200", "policy_ofice: -200"), encoding="utf-8"
    )
    assert main(["check-config", "--config", str(good)]) == 2
    err = capsys.readouterr().err
    # Every file's problems at once: the scheme in feeds.yaml, the misspelt chat in roster.yaml,
    # and the playbooks directory that is not beside this feeds.yaml.
    assert "schemes[0]" in err and "feeds.yaml:10" in err
    assert "roster.yaml" in err and "chats.policy_ofice" in err
    assert "playbook directory not found" in err


def test_a_broken_feeds_yaml_still_finds_its_playbooks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    bad = write(
        tmp_path, GOOD.replace("event: [爆炸, 坍塌]", "event: []") + f"playbooks: {ROOT / 'playbooks'}\n"
    )
    assert main(["check-config", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    # Only the real mistake: the playbooks and roster it names were found and are fine.
    assert "schemes[0]" in err and "playbook" not in err and "roster" not in err
