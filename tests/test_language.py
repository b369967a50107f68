"""The language staff read: RESPONDER_LANG as locales are written, and the commands' words in it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.enginekit import ROOT, ROSTER, rss, write_config
from kit.feedserver import FeedServer

from responder.cli import main
from responder.configfile import ConfigError
from responder.db import make_engine, session_scope
from responder.env import Environment, language_of
from responder.i18n import use_language
from responder.migrate import upgrade
from responder.models import FeedState, Incident, Step
from responder.runtime import load_settings
from responder.status import render_status


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


# --------------------------------------------------------------------------- what the commands print


def test_the_scan_table_is_in_the_catalogue_words(
    tmp_path: Path,
    feed_server: FeedServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    items = [
        ("https://a.example/1", "淮南市潘集区一化工厂发生爆炸", "事故已造成12人遇难。", t0),
        (
            "https://a.example/4",
            "安徽一季度安全生产形势平稳",
            "一季度全省共发生生产安全事故51起、死亡34人。",
            t0,
        ),
    ]
    feed_server.route("/a.xml", rss(items))
    feed_server.route("/broken.xml", b"<html>not a feed</html>", content_type="text/html")
    cfg = write_config(
        tmp_path,
        f"  - {{name: 甲, url: '{feed_server.url('/a.xml')}'}}\n  - {{name: 坏, url: '{feed_server.url('/broken.xml')}'}}\n",
    )
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "--config", str(cfg)]) == 0
    table = capsys.readouterr().out
    assert "统计通报" in table and "地区词：安徽" in table and "事件词：爆炸" in table
    assert (
        "事件：2 起" in table and "scan-1【重大】淮南市潘集区一化工厂发生爆炸（1 篇报道，1 个来源）" in table
    )
    assert "【关注】" in table and "出错：1 个来源" in table and "  坏：" in table
    assert not re.search(r"\b(incidents|reports|sources|errors|region|event|bulletin)\b", table), table


def test_status_speaks_one_language(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    with session_scope(engine) as s:
        s.add(FeedState(source="省应急厅", url="https://x.example/feed", next_poll_at=now, polls=4,
                        consecutive_failures=2, last_error="服务器返回 HTTP 502 Bad Gateway"))  # fmt: skip
        inc = Incident(title="淮南一化工厂爆炸", grade="较大", first_published=now, detected_at=now)
        s.add(inc)
        s.flush()
        s.add(Step(incident_id=inc.id, playbook="serious-incident", key="publish_info", title="公开事故情况",
                   started_at=now, due_at=now + timedelta(minutes=57)))  # fmt: skip
    text = render_status(engine, now, "Asia/Shanghai")
    assert "截至 2026-11-20 16:00（Asia/Shanghai）" in text
    assert "  省应急厅：连续失败 2 次；最近成功 —；下次抓取 2026-11-20 16:00；已抓取 4 次" in text
    assert "未结事件：1 起" in text and "#1【较大】待确认 淮南一化工厂爆炸（下一时限：57分钟）" in text
    assert "发件箱：0 条未发出" in text
    english_words = r"as of|feeds:|FAILING|last success|next poll|open incidents|next deadline|outbox|unsent"
    assert not re.search(english_words, text), text
    use_language("en")
    english = render_status(engine, now, "Asia/Shanghai")
    assert "open incidents: 1" in english and "#1 [较大] open 淮南一化工厂爆炸 (next deadline: " in english
    assert not re.search("截至|信息源：|连续失败|未结事件|下一时限|发件箱|待确认", english), english
    engine.dispose()
