"""The language staff read: RESPONDER_LANG as locales are written, and the commands' words in it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kit.enginekit import ROOT, ROSTER, write_config

from responder.configfile import ConfigError
from responder.env import Environment, language_of
from responder.i18n import use_language
from responder.runtime import load_settings


@pytest.fixture(autouse=True)
def _back_to_chinese() -> Iterator[None]:
    yield
    use_language("zh")  # main() chooses the language for the whole process


@pytest.mark.parametrize(
    "value", ["", "zh", "zh_CN", "zh-CN", "zh_Hans", "zh-Hans-CN", "zh_CN.UTF-8", "ZH_cn.utf8", " zh "]
)
def test_the_ways_of_writing_simplified_chinese_select_zh(value: str) -> None:
    assert Environment.read({"RESPONDER_LANG": value}).lang == "zh"


@pytest.mark.parametrize("value", ["en", "en_US", "en-GB", "en_US.UTF-8", "EN"])
def test_english_in_any_region_selects_en(value: str) -> None:
    assert language_of(value) == "en"


@pytest.mark.parametrize("value", ["fr", "zh_TW", "zh-Hant", "chinese", "C.UTF-8"])
def test_any_other_language_is_refused_naming_the_accepted_values(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        language_of(value)
    message = str(caught.value)
    assert f"RESPONDER_LANG={value}" in message and "\n" not in message
    assert "zh_CN" in message and "zh-Hans-CN" in message and "en_US" in message


def _cli(*args: str, lang: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RESPONDER_LANG": lang}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_a_wrong_language_is_one_line_and_exit_status_2() -> None:
    done = _cli("check-config", "--config", "examples/offline/feeds.yaml", lang="klingon")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "RESPONDER_LANG=klingon" in done.stderr


def test_zh_cn_is_accepted_by_the_command_line() -> None:
    done = _cli("check-config", "--config", "examples/offline/feeds.yaml", lang="zh_CN.UTF-8")
    assert done.returncode == 0, done.stderr
    assert "工作日历" in done.stdout


# --------------------------------------------------------------------------- config problems

_TYPE_SLIPS = (
    ROSTER.replace("telegram_id: 1002", "telegram_id: 法规处")
    .replace('handover: "09:00"', "handover: nine")
    .replace("days_each: 7", "days_each: 0")
    .replace("  duty: -100\n", "")
    .replace("roles: [head]", "roles: [boss]")
    .replace("start: 2026-01-05", "start: next monday")
)


def _slips(tmp_path: Path) -> list[str]:
    cfg = write_config(tmp_path, "  - {name: 新闻, url: feeds/x.xml}\n", extra="  per_host: 50\n")
    (tmp_path / "roster.yaml").write_text(_TYPE_SLIPS, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(cfg)
    return [str(p).replace(str(tmp_path) + "/", "") for p in caught.value.problems]


def test_pydantic_problems_are_said_in_the_catalogue_words_at_their_lines(tmp_path: Path) -> None:
    found = _slips(tmp_path)
    assert "feeds.yaml:6: polling.per_host: 应不大于 20" in found
    assert "roster.yaml:4: people[1].telegram_id: 应为整数" in found
    assert (
        "roster.yaml:5: people[2].roles[0]: 应为以下之一：duty_officer、policy_office、head、admin、spokesperson"
        in found
    )
    assert "roster.yaml:7: chats.duty: 缺少必填字段" in found
    assert 'roster.yaml:11: rotation.handover: 应为加引号的时刻，例如 "09:00"' in found
    assert "roster.yaml:12: rotation.start: 应为日期，例如 2026-11-30" in found
    assert "roster.yaml:13: rotation.days_each: 应不小于 1" in found
    assert not [line for line in found if re.search(r"[A-Z][a-z]+ (should|error)|Input", line)], found


def test_the_same_problems_in_english(tmp_path: Path) -> None:
    use_language("en")
    found = _slips(tmp_path)
    assert "feeds.yaml:6: polling.per_host: should be at most 20" in found
    assert "roster.yaml:7: chats.duty: required field is missing" in found
    assert (
        "roster.yaml:5: people[2].roles[0]: should be one of: duty_officer, policy_office, head, admin, spokesperson"
        in found
    )
