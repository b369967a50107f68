"""The Telegram-poller lease on SQLite and PostgreSQL, with the instances' `now` given explicitly.

The case at stake: an instance whose wall clock had jumped days ahead takes the lease (its
expiry days ahead) and is then killed. Nobody must be left without Telegram updates until
that far-off expiry; yet a holder that is alive, however wrong its clock, keeps its lease.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from responder.engine import lease
from responder.models import Lease

T = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
TTL = timedelta(seconds=45)  # the service's poller lease, renewed every 15 s
EVERY = timedelta(seconds=15)
NAME = "telegram-poller"


def holder(engine: Engine) -> tuple[str, datetime]:
    with Session(engine) as s:
        row = s.get(Lease, NAME)
        assert row is not None
        return row.holder, row.expires_at


def takeovers(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "responder.engine.lease"]


def test_lease_left_by_a_clock_days_ahead_is_taken_over_and_said_once(
    db_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    ahead = timedelta(days=3)
    # Instance A, its clock three days ahead, takes the lease, then is killed.
    assert lease.acquire(db_engine, NAME, "host-a", T + ahead, TTL, lease.Watch())
    assert holder(db_engine) == ("host-a", T + ahead + TTL)

    # Instance B, on the right time, renews its attempt every 15 s as the service does.
    watch = lease.Watch()
    got = []
    for n in range(5):  # T, T+15 s, ... T+60 s
        got.append(lease.acquire(db_engine, NAME, "host-b", T + n * EVERY, TTL, watch))
    # Seen unrenewed for a ttl (45 s) of B's time, it is B's: within a minute, not in three days.
    assert got == [False, False, False, True, True]
    assert holder(db_engine) == ("host-b", T + 4 * EVERY + TTL)
    [said] = takeovers(caplog)
    assert NAME in said and "host-a" in said and "host-b" in said and "已接管" in said
    assert "比本机时间晚 3天" in said  # how far ahead of B's clock (T+45 s) the expiry (T+3 days+45 s) was

    # A comes back with its clock put right: B holds the lease, A waits for it like anyone.
    assert not lease.acquire(db_engine, NAME, "host-a", T + 5 * EVERY, TTL, lease.Watch())
    assert holder(db_engine)[0] == "host-b"
    assert len(takeovers(caplog)) == 1


def test_holder_alive_with_a_clock_ahead_keeps_its_lease(
    db_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Taking it while A still renews would have A and B take it from each other every 15 s,
    both polling Telegram; A's own clock watch tells the admins about A's clock."""
    caplog.set_level(logging.WARNING)
    ahead = timedelta(days=3)
    watch = lease.Watch()
    for n in range(12):  # three minutes, both renewing every 15 s
        assert lease.acquire(db_engine, NAME, "host-a", T + ahead + n * EVERY, TTL, lease.Watch())
        assert not lease.acquire(db_engine, NAME, "host-b", T + n * EVERY + timedelta(seconds=1), TTL, watch)
    assert holder(db_engine)[0] == "host-a"
    assert takeovers(caplog) == []


def test_expiry_within_twice_the_ttl_is_waited_for(
    db_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    # A's clock is a ttl ahead (clocks that differ a little): its expiry is 2 × ttl ahead of B's now.
    assert lease.acquire(db_engine, NAME, "host-a", T + TTL, TTL, lease.Watch())
    watch = lease.Watch()
    for n in range(7):  # T ... T+90 s: A is gone, but its lease runs until T+90 s
        assert not lease.acquire(db_engine, NAME, "host-b", T + n * EVERY, TTL, watch)
    assert lease.acquire(db_engine, NAME, "host-b", T + 2 * TTL + timedelta(seconds=1), TTL, watch)
    assert takeovers(caplog) == []  # an ordinary expiry, nothing to say
