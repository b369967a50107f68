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
    assert "未知字段" in text


def test_own_source_without_channel_and_bad_interval(tmp_path: Path) -> None:
    bad = GOOD.replace("    channel: portal\n", "    interval: 5 minutes\n")
    with pytest.raises(ConfigError) as exc:
        load_feeds(write(tmp_path, bad))
    problems = {p.field: p for p in exc.value.problems}
    assert "sources[1].interval" in problems
    assert problems["sources[1].interval"].line == 8
    assert "不是时长" in problems["sources[1].interval"].message


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_feeds(write(tmp_path, GOOD + "  - name: [unclosed\n"))
    assert exc.value.problems[0].line is not None
    assert "YAML 格式错误" in str(exc.value)


def test_check_config_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    good = write(tmp_path, GOOD + f"playbooks: {ROOT / 'playbooks'}\n")
    assert main(["check-config", "--config", str(good)]) == 0
    out = capsys.readouterr().out
    assert "2 个信息源（启用 2 个）" in out and "major-incident" in out
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
    assert "找不到预案目录" in err


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


# --------------------------------------------------------------------------- mistakes at their line


def _problems(tmp_path: Path, feeds: str, roster: str = ROSTER, playbook: str | None = None) -> list[str]:
    """check-config's problems for these three files, as "file:line: field: message" strings."""
    (tmp_path / "roster.yaml").write_text(roster, encoding="utf-8")
    books = tmp_path / "playbooks"
    books.mkdir(exist_ok=True)
    for f in (ROOT / "playbooks").glob("*.yaml"):
        (books / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    if playbook is not None:
        (books / "extra.yaml").write_text(playbook, encoding="utf-8")
    cfg = write(tmp_path, feeds)
    from responder.runtime import load_settings

    try:
        load_settings(cfg)
    except ConfigError as exc:
        return [str(p).replace(str(tmp_path) + "/", "") for p in exc.problems]
    return []


def test_a_misspelt_block_key_is_reported_at_its_own_line(tmp_path: Path) -> None:
    text = GOOD + "poling:\n  interval: 5m\n"
    assert _problems(tmp_path, text) == [
        "feeds.yaml:14: poling: 未知字段（请对照 docs/reference.md 检查拼写）"
    ]


def test_every_problem_of_all_three_files_at_once(tmp_path: Path) -> None:
    roster = ROSTER.replace("order: [值班员甲]", "order: [值班员甲, 值班员乙]").replace(
        "  admin: -300\n", "  admn: -300\n"
    )
    playbook = "name: extra\ntitle: 额外\ntrigger: {min_grade: 较大}\nsteps:\n  - key: x\n    title: X\n    deadlin: 1h\n"
    found = _problems(tmp_path, GOOD.replace("event: [爆炸, 坍塌]", "event: []"), roster, playbook)
    assert "feeds.yaml:10: schemes[0]: 请同时写 region（地区）和 event（事件）词" in found[0]
    # The misspelt chat and the rotation naming someone who is not on the roster, each at its line.
    assert "roster.yaml:10: chats.admn: 未知字段（请对照 docs/reference.md 检查拼写）" in found
    assert any(
        p.startswith("roster.yaml:15: rotation.order[1]: 值班表中的 “值班员乙” 不在 people 名单中")
        for p in found
    )
    assert any(p.startswith("playbooks/extra.yaml:7: steps[0].deadlin: 未知字段") for p in found)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (GOOD + "  - name: [unclosed\n", 15, "YAML 格式错误：引号或括号没有闭合"),
        (GOOD.replace("  - name: 门户网站\n", "\t- name: 门户网站\n"), 5, "制表符"),
        ("", None, "文件是空的"),
        ("# 只有注释\n", None, "文件是空的"),
    ],
    ids=["syntax", "tab", "empty", "comments-only"],
)
def test_an_unreadable_feeds_yaml_adds_no_follow_on_errors(
    tmp_path: Path, text: str, line: int | None, words: str
) -> None:
    """A syntax error, a tab or an empty file is the one problem: no "playbook directory not found"."""
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    cfg = write(tmp_path, text)
    from responder.runtime import load_settings

    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    assert len(exc.value.problems) == 1, exc.value.problems
    [p] = exc.value.problems
    assert p.line == line and words in p.message and "playbook" not in p.message


def test_empty_placeholder_and_schemeless_configs_are_refused(tmp_path: Path) -> None:
    placeholder = GOOD.replace(
        "    url: https://example.org/ah.xml\n", "    route: /weibo/user/REPLACE_WITH_UID\n"
    )
    found = _problems(tmp_path, "rsshub_base: 127.0.0.1:1200\n" + placeholder)
    assert any(p.startswith("feeds.yaml:1: rsshub_base:") and "http://" in p for p in found), found
    assert any(p.startswith("feeds.yaml:5: sources[0].route:") and "REPLACE_WITH_" in p for p in found), found
    # The same placeholder under enabled: false is what the shipped feeds.yaml does: accepted.
    disabled = placeholder.replace("REPLACE_WITH_UID\n", "REPLACE_WITH_UID\n    enabled: false\n")
    assert _problems(tmp_path, "rsshub_base: http://127.0.0.1:1200\n" + disabled) == []
    no_schemes = GOOD.split("schemes:")[0]
    assert any("schemes" in p and "没有监测方案" in p for p in _problems(tmp_path, no_schemes))
    all_off = GOOD.replace(
        "    url: https://example.org/ah.xml\n", "    url: https://example.org/ah.xml\n    enabled: false\n"
    )
    all_off = all_off.replace("    channel: portal\n", "    channel: portal\n    enabled: false\n")
    assert any("sources" in p and "没有启用的信息源" in p for p in _problems(tmp_path, all_off))


def test_duplicates_are_reported_where_they_are(tmp_path: Path) -> None:
    text = GOOD.replace("  - name: 门户网站\n", "  - name: 新华网安徽\n").replace(
        "timezone: Asia/Shanghai\n", "timezone: Asia/Shanghai\ntimezone: UTC\n"
    )
    found = _problems(tmp_path, text)
    assert any(p.startswith("feeds.yaml:2: timezone:") and "第 1 行" in p for p in found), found


def test_a_source_named_twice_is_reported_at_the_second(tmp_path: Path) -> None:
    found = _problems(tmp_path, GOOD.replace("  - name: 门户网站\n", "  - name: 新华网安徽\n"))
    assert found == ["feeds.yaml:5: sources[1].name: 来源名称 “新华网安徽” 重复；每个来源的名称必须唯一。"]


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    """The "billion laughs": nine levels of nine aliases would expand to 10^9 strings."""
    import time

    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    cfg = write(tmp_path, GOOD + "\n".join(lines) + "\n")
    started = time.process_time()
    with pytest.raises(ConfigError) as exc:
        load_feeds(cfg)
    assert time.process_time() - started < 5  # a quality floor: without the guard this runs for minutes
    first = exc.value.problems[0]
    assert first.line == 15 and "不允许使用 YAML 别名（*a0）" in first.message


def test_a_huge_config_is_refused_without_being_read(tmp_path: Path) -> None:
    from responder.configfile import MAX_CONFIG_BYTES

    cfg = write(tmp_path, GOOD + "# " + "x" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(ConfigError, match="文件过大"):
        load_feeds(cfg)


# --------------------------------------------------------------------------- dates that do not exist


def test_an_impossible_date_is_a_config_problem_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`start: 2026-13-05` has a date's shape, so YAML reads it as a date and cannot build it:
    check-config names file, line and field in the catalogue's words, exit 2, no traceback."""
    roster = ROSTER.replace("start: 2026-01-05", "start: 2026-13-05") + (
        "  ranges:\n    - {from: 2026-02-30, to: 2026-03-01, person: 值班员甲}\n"
    )
    (tmp_path / "roster.yaml").write_text(roster, encoding="utf-8")
    feeds = write(
        tmp_path,
        GOOD + f"playbooks: {ROOT / 'playbooks'}\nreplay:\n  recorded_start: 2026-11-20T15:61:00+08:00\n",
    )
    assert main(["check-config", "--config", str(feeds)]) == 2
    err = capsys.readouterr().err.replace(str(tmp_path) + "/", "")
    assert "ValueError" not in err and "出错了" not in err
    assert "feeds.yaml:16: replay.recorded_start: 2026-11-20T15:61:00+08:00 不是存在的时刻" in err
    assert "roster.yaml:13: rotation.start: 2026-13-05 不是存在的日期：没有 13 月，月份应为 1–12" in err
    assert "roster.yaml:17: rotation.ranges[0].from: 2026-02-30 不是存在的日期：2026 年 2 月只有 28 天" in err


def test_impossible_dates_in_the_schedule_file_and_a_quoted_clock(tmp_path: Path) -> None:
    """The confirmed holiday schedules (holidays.yaml) and a quoted `handover:` say the same."""
    (tmp_path / "holidays.yaml").write_text(
        "years:\n  2027:\n    holidays: [2027-02-29]\n    workdays: []\n"
        "    confirmed_at: 2026-12-01 24:00:00+08:00\n",
        encoding="utf-8",
    )
    found = _problems(tmp_path, GOOD, ROSTER.replace('handover: "09:00"', 'handover: "25:00"'))
    assert "roster.yaml:12: rotation.handover: 25:00 不是存在的时刻：时应为 0–23，分和秒应为 0–59" in found
    assert (
        "holidays.yaml:3: years[2027].holidays[0]: 2027-02-29 不是存在的日期：2027 年 2 月只有 28 天" in found
    )
    assert any(
        p.startswith("holidays.yaml:5: years[2027].confirmed_at: 2026-12-01 24:00:00+08:00 不是存在的时刻")
        for p in found
    )


def test_an_explicit_yaml_tag_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    found = _problems(tmp_path, GOOD + "polling:\n  interval: !!int 五分钟\n")
    assert found == [
        "feeds.yaml:15: polling.interval: 无法按 YAML 标记 !!int 读取 “五分钟”：去掉这个标记，或写成该类型的值"
    ]
