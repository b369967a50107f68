"""Every command answers what an operator meets with one line, never a traceback.

An unmigrated database, a closed pipe (`status | head`), a missing folder for the chart,
a config with mistakes: each is one line on stderr (one per config problem) and an exit
status a script can test. PostgreSQL being down is covered in test_secrets.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kit.enginekit import ROOT, ROSTER
from kit.servicekit import write_service_config

from responder.migrate import upgrade


def _run(args: list[str], cwd: Path, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_URL"))}
    if url:
        env["DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["summary", "--week", "2026-W47"],
        ["report", "annual", "--year", "2026"],
        ["web", "login", "值班员甲"],
        ["run"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_an_unmigrated_database_is_one_line(args: list[str], tmp_path: Path) -> None:
    """Exit status 3 is the service's own ("not migrated", for a unit file); every other command
    says the same line with 1."""
    (tmp_path / "empty.sqlite3").touch()
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    if args[0] in ("run", "web"):
        args = [*args, "--config", str(write_service_config(tmp_path / "cfg", [("新闻", "feeds/none.xml")]))]
    done = _run(args, tmp_path, url)
    assert done.returncode == (3 if args[0] == "run" else 1)
    assert "python main.py migrate" in _one_line(done)


@pytest.mark.parametrize(
    "args",
    [["status"], ["summary", "--week", "2026-W47"], ["report", "annual", "--year", "2026"]],
    ids=lambda a: a[0],
)
def test_a_read_only_command_creates_no_database(args: list[str], tmp_path: Path) -> None:
    """Without a database yet (the default var/responder.sqlite3, a config's own file, a
    --database file), a command that only reads says so and what to run; it creates nothing."""
    done = _run(args, tmp_path)
    assert done.returncode == 1
    assert _one_line(done) == (
        "还没有数据库：var/responder.sqlite3 不存在。请先运行 `python main.py migrate` 建立它，或检查数据库的路径。"
    )
    assert not (tmp_path / "var").exists()
    # The offline example keeps its own database: the command that creates it keeps the --config.
    if args[0] != "report":
        example = tmp_path / "examples" / "offline"
        shutil.copytree(ROOT / "examples" / "offline", example, ignore=shutil.ignore_patterns("var"))
        (tmp_path / "playbooks").symlink_to(ROOT / "playbooks")
        done = _run([*args, "--config", str(example / "feeds.yaml")], tmp_path)
        assert done.returncode == 1 and not (example / "var").exists()
        assert f"请先运行 `python main.py migrate --config {example / 'feeds.yaml'}` 建立它" in _one_line(
            done
        )
    if args[0] != "status":
        missing = tmp_path / "elsewhere" / "x.sqlite3"
        done = _run([*args, "--database", f"sqlite:///{missing}"], tmp_path)
        assert done.returncode == 1 and not missing.parent.exists()
        assert f"`DATABASE_URL=sqlite:///{missing} python main.py migrate`" in _one_line(done)


def _migrated(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade(url)
    return url


def test_a_closed_pipe_ends_status_quietly(tmp_path: Path) -> None:
    """`status | head` with the reader gone before status writes: no BrokenPipeError."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL")}
    env["DATABASE_URL"] = _migrated(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "status"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone long before the interpreter has even started
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""


def test_a_missing_chart_folder_is_one_line(tmp_path: Path) -> None:
    chart = tmp_path / "missing" / "dir" / "x.png"
    done = _run(["summary", "--week", "2026-W47", "--chart", str(chart)], tmp_path, _migrated(tmp_path))
    assert done.returncode == 1
    assert _one_line(done) == f"无法访问 {chart}：No such file or directory"


def test_config_problems_are_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "roster.yaml").write_text(
        ROSTER.replace("  duty: -100\n", "  duty: oops\n"), encoding="utf-8"
    )
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(f"playbooks: {ROOT / 'playbooks'}\npoling: {{}}\nsources: []\n", encoding="utf-8")
    for command in ("check-config", "run", "scan"):
        done = _run([command, "--config", str(cfg)], tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert lines[0].startswith("配置有误") and all(line.startswith("  ") for line in lines[1:])
        assert any("feeds.yaml:2: poling: 未知字段" in line for line in lines)
        assert any("roster.yaml:8: chats.duty" in line for line in lines)


def test_a_folder_where_a_file_is_expected_is_one_line(tmp_path: Path) -> None:
    done = _run(["calendar", "import", str(tmp_path)], tmp_path)
    assert done.returncode == 1 and str(tmp_path) in _one_line(done)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["ack", "--as", "值班员甲"], "responder ack：缺少 ID（加 -h 查看写法）"),
        (["ack", "12", "--as"], "responder ack：--as 后面缺少取值（加 -h 查看写法）"),
        (
            ["done", "12", "--as", "值班员甲", "--bogus"],
            "responder：无法识别的参数：--bogus（加 -h 查看写法）",
        ),
        (["status", "extra"], "responder：无法识别的参数：extra（加 -h 查看写法）"),
        (
            ["summary", "--format", "xml"],
            "responder summary：--format 不能取 'xml'，可选：'text', 'csv', 'json'（加 -h 查看写法）",
        ),
    ],
    ids=["no-words", "no-name", "unknown-option", "stray-word", "bad-choice"],
)
def test_a_usage_mistake_is_one_line(args: list[str], line: str, tmp_path: Path) -> None:
    done = _run(args, tmp_path)
    assert done.returncode == 2 and "usage:" not in done.stderr
    assert _one_line(done) == line


def test_the_words_of_an_action_may_follow_its_options(tmp_path: Path) -> None:
    """`done 999 --as NAME statement 微博` is read as `done 999 statement 微博 --as NAME`: the
    person, the roles and the incident are looked at (no such incident), not the word order."""
    cfg = write_service_config(tmp_path / "cfg", [("新闻", "feeds/none.xml")])
    url = _migrated(tmp_path)
    for words in (
        ["999", "--as", "法规处长", "statement", "微博"],
        ["999", "statement", "--as", "法规处长", "微博"],
    ):
        done = _run(["done", *words, "--config", str(cfg)], tmp_path, url)
        assert done.returncode == 1, done.stderr
        assert "没有编号为 #999 的事件" in _one_line(done)
