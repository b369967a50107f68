"""The language staff read: RESPONDER_LANG as locales are written, and the commands' words in it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from kit.enginekit import ROOT

from responder.env import Environment, language_of
from responder.i18n import use_language


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
