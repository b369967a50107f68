"""The database layer on a real SQLite file and a real PostgreSQL server alike."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlmodel import Session, select

from responder.db import create_all, insert_ignore, make_engine, session_scope
from responder.migrate import NotMigratedError, check_migrated, current_revision, head_revision
from responder.models import Incident, IncidentEvent, Lease, Outbox, Report, Step

NOW = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))


def _outbox(key: str, text: str = "事故快讯") -> Outbox:
    return Outbox(dedup_key=key, created_at=NOW, chat_id=-100123, text=text)


# --- migration state ---------------------------------------------------------------


def test_migrated_database_passes_the_start_check(db_engine: Engine) -> None:
    check_migrated(db_engine)
    assert current_revision(db_engine) == head_revision()


def test_empty_database_is_refused_with_the_command_to_run(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with pytest.raises(NotMigratedError) as err:
            check_migrated(engine)
    finally:
        engine.dispose()
    message = str(err.value)
    assert "python main.py migrate" in message
    assert "还没有表结构" in message
    assert make_url(db_url).database in message


def test_refusal_message_hides_the_password(pg_url: str) -> None:
    # The test server trusts every local login, so any password connects.
    url = make_url(pg_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        with pytest.raises(NotMigratedError) as err:
            check_migrated(engine)
    finally:
        engine.dispose()
    assert "s3cret-pw" not in str(err.value)
    assert "postgres:***@127.0.0.1" in str(err.value)


def test_tables_without_migration_record_are_refused(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        create_all(engine)
        with pytest.raises(NotMigratedError, match="没有迁移记录"):
            check_migrated(engine)
    finally:
        engine.dispose()


def test_database_from_a_newer_release_is_refused(db_engine: Engine) -> None:
    with db_engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(NotMigratedError, match=r"9999.*不认识"):
        check_migrated(db_engine)


# --- column types --------------------------------------------------------------------


def test_utc_datetime_round_trips_as_aware_utc(db_engine: Engine) -> None:
    local = NOW.astimezone(SHANGHAI)  # the same instant, written from Asia/Shanghai
    with session_scope(db_engine) as s:
        s.add(Lease(name="telegram-poller", holder="host-1", expires_at=local))
    with Session(db_engine) as s:
        lease = s.get(Lease, "telegram-poller")
        assert lease is not None
        assert lease.expires_at == NOW
        assert lease.expires_at.tzinfo is UTC
        assert lease.expires_at.microsecond == NOW.microsecond
        # Comparisons and ordering in SQL see the UTC instant.
        found = s.exec(select(Lease).where(Lease.expires_at > NOW - timedelta(seconds=1))).all()
        assert [x.name for x in found] == ["telegram-poller"]


def test_utc_datetime_refuses_naive_values(db_engine: Engine) -> None:
    with pytest.raises(StatementError, match="naive datetime"), session_scope(db_engine) as s:
        s.add(Lease(name="x", holder="h", expires_at=datetime(2026, 3, 4, 5, 6, 7)))
    with Session(db_engine) as s:
        assert s.get(Lease, "x") is None


def test_json_columns_keep_chinese_text(db_engine: Engine) -> None:
    hits = {"地域词": ["安徽", "合肥市"], "事件词": ["爆炸", "坍塌"]}
    data = {"备注": "已报告值班室 “第一时间”", "人员": ["张三"], "级别": 2}
    with session_scope(db_engine) as s:
        incident = Incident(title="合肥某化工厂爆炸", first_published=NOW, detected_at=NOW)
        s.add(incident)
        s.flush()
        s.add(Report(identity="guid-1", source="新华网", fetched_at=NOW, hits=hits, incident_id=incident.id))
        s.add(IncidentEvent(incident_id=incident.id, at=NOW, kind="acknowledged", data=data))
    with Session(db_engine) as s:
        report = s.exec(select(Report)).one()
        event = s.exec(select(IncidentEvent)).one()
        assert report.hits == hits
        assert event.data == data
        assert report.source == "新华网"


# --- outbox idempotence --------------------------------------------------------------


def test_outbox_dedup_key_is_unique(db_engine: Engine) -> None:
    key = "incident:42:statement:reminder:80pct"
    with session_scope(db_engine) as s:
        s.add(_outbox(key))
    with pytest.raises(IntegrityError), session_scope(db_engine) as s:
        s.add(_outbox(key, text="second copy"))
    with Session(db_engine) as s:
        assert [o.text for o in s.exec(select(Outbox)).all()] == ["事故快讯"]


def test_insert_ignore_queues_each_key_once(db_engine: Engine) -> None:
    first = _outbox("incident:1:opened")
    with session_scope(db_engine) as s:
        assert insert_ignore(s, first, ["dedup_key"]) is True
        assert first.id is not None
        # The same cycle run again: the key exists, nothing changes, no error.
        assert insert_ignore(s, _outbox("incident:1:opened", text="again"), ["dedup_key"]) is False
        assert insert_ignore(s, _outbox("incident:1:statement:due"), ["dedup_key"]) is True
    with Session(db_engine) as s:
        rows = s.exec(select(Outbox).order_by(Outbox.id)).all()
        assert [(o.dedup_key, o.text) for o in rows] == [
            ("incident:1:opened", "事故快讯"),
            ("incident:1:statement:due", "事故快讯"),
        ]
        assert rows[0].id == first.id
        assert rows[0].created_at == NOW


def test_insert_ignore_leaves_the_transaction_usable(db_engine: Engine) -> None:
    """A second instance that finds the key already queued carries on with its transaction.

    (On PostgreSQL a plain failed INSERT would abort the whole transaction.)
    """
    with session_scope(db_engine) as s:
        assert insert_ignore(s, _outbox("incident:7:opened"), ["dedup_key"])
    with session_scope(db_engine) as s:
        assert not insert_ignore(s, _outbox("incident:7:opened"), ["dedup_key"])
        s.add(Lease(name="cycle", holder="instance-2", expires_at=NOW))
    with Session(db_engine) as s:
        assert s.get(Lease, "cycle") is not None
        assert len(s.exec(select(Outbox)).all()) == 1


def test_insert_ignore_on_a_composite_key(db_engine: Engine) -> None:
    """A playbook step is opened once per (incident, playbook, key, channel, seq)."""
    cols = ["incident_id", "playbook", "key", "channel", "seq"]

    def step(channel: str, seq: int = 0) -> Step:
        return Step(incident_id=incident_id, playbook="major", key="repost", channel=channel, seq=seq,
                    title="转载", started_at=NOW, due_at=NOW + timedelta(hours=1))  # fmt: skip

    with session_scope(db_engine) as s:
        incident = Incident(title="国务院政策文件", kind="policy", first_published=NOW, detected_at=NOW)
        s.add(incident)
        s.flush()
        incident_id = incident.id
        assert insert_ignore(s, step("weibo"), cols)
        assert not insert_ignore(s, step("weibo"), cols)
        assert insert_ignore(s, step("wechat"), cols)
        assert insert_ignore(s, step("weibo", seq=1), cols)
    with Session(db_engine) as s:
        assert len(s.exec(select(Step)).all()) == 3


def test_insert_ignore_without_columns_honours_every_unique_key(db_engine: Engine) -> None:
    """A report is one report whether its identity or its link was seen before."""

    def report(identity: str, link_key: str) -> Report:
        return Report(identity=identity, link_key=link_key, source="人民网", fetched_at=NOW)

    with session_scope(db_engine) as s:
        assert insert_ignore(s, report("guid-a", "example.cn/a"), [])
        assert not insert_ignore(s, report("guid-a", "example.cn/other"), [])  # same identity
        assert not insert_ignore(s, report("guid-b", "example.cn/a"), [])  # same link
        assert insert_ignore(s, report("guid-c", "example.cn/c"), [])
    with Session(db_engine) as s:
        assert sorted(r.identity for r in s.exec(select(Report)).all()) == ["guid-a", "guid-c"]


# --- SQLite: a briefly locked file is waited for ---------------------------------------


def test_sqlite_write_waits_for_a_brief_lock(sqlite_engine: Engine) -> None:
    """Another process holds the write lock; our write waits for it instead of failing."""
    path = sqlite_engine.url.database
    assert path
    holder = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as another process would hold it
    holder.execute(
        "INSERT INTO lease (name, holder, expires_at) VALUES ('other', 'p2', '2026-03-04 05:06:07')"
    )

    writer_waiting = threading.Event()

    def release_when_writer_waits() -> None:
        writer_waiting.wait()
        holder.execute("COMMIT")

    @sa.event.listens_for(sqlite_engine, "connect")
    def _trace(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # SQLite calls this as it starts each statement: our INSERT has begun and needs the lock.
        dbapi_conn.set_trace_callback(lambda sql: writer_waiting.set() if sql.startswith("INSERT") else None)

    sqlite_engine.dispose()  # new connections get the trace hook
    releaser = threading.Thread(target=release_when_writer_waits)
    releaser.start()
    try:
        with session_scope(sqlite_engine) as s:
            s.add(Lease(name="ours", holder="p1", expires_at=NOW))
    finally:
        writer_waiting.set()
        releaser.join()
        holder.close()
    with Session(sqlite_engine) as s:
        assert {x.name for x in s.exec(select(Lease)).all()} == {"other", "ours"}


def test_sqlite_lock_is_real_without_a_busy_timeout(sqlite_engine: Engine) -> None:
    """The control for the test above: with no waiting, the same lock makes the write fail."""
    path = sqlite_engine.url.database
    assert path
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    impatient = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with pytest.raises(OperationalError, match="database is locked"), impatient.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO lease (name, holder, expires_at) VALUES ('x', 'y', '2026-01-01')")
            )
    finally:
        impatient.dispose()
        holder.execute("ROLLBACK")
        holder.close()


# --- the PostgreSQL half is never silently skipped ----------------------------------


def _pytest_pg_only(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    test = f"{Path(__file__).resolve()}::test_migrated_database_passes_the_start_check[postgresql]"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", test],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_missing_postgresql_fails_with_install_instructions(tmp_path: Path) -> None:
    env = {"RESPONDER_PG_BIN": str(tmp_path / "no-postgresql-here"), "RESPONDER_SKIP_PG": ""}
    result = _pytest_pg_only(env, tmp_path)
    assert result.returncode != 0, result.stdout
    assert "apt-get install postgresql" in result.stdout
    assert "RESPONDER_SKIP_PG=1" in result.stdout


def test_missing_postgresql_is_skipped_only_when_asked(tmp_path: Path) -> None:
    env = {"RESPONDER_PG_BIN": str(tmp_path / "no-postgresql-here"), "RESPONDER_SKIP_PG": "1"}
    result = _pytest_pg_only(env, tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "RESPONDER_SKIP_PG=1: PostgreSQL tests skipped" in result.stdout
