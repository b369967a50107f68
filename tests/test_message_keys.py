"""The console names each sent message by its key: `keys.describe` reads back what the builders wrote."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from responder.policy import keys
from responder.vocab import Channel, EventKind, FeedHealth

AT = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "described"),
    [
        (keys.escalation(42, 1), ("escalation", 1)),
        (keys.escalation(42, 3, repeat=2), ("escalation", 3)),
        (keys.grade_raised(42, "重大", 7), ("grade", None)),
        (keys.confirmation(42, EventKind.ACKNOWLEDGED, 9), ("confirmation", None)),
        (keys.confirmation(42, EventKind.EXTENDED, 9), ("confirmation", None)),
        (keys.step_notice(42, "statement", 0, None, "reminder", "80pct"), ("reminder", None)),
        (keys.step_notice(42, "repost", 0, Channel.WEIBO, "overdue"), ("overdue", None)),
        (keys.step_notice(42, "updates", 2, None, "due"), ("due", None)),
        (keys.feed_health("新闻", FeedHealth.DOWN, AT), ("other", None)),
        (keys.delivery_failed(5), ("other", None)),
    ],
)
def test_keys_read_back(key: str, described: tuple[str, int | None]) -> None:
    assert keys.describe(key) == described
    assert keys.describe(keys.notice_of_row(keys.row_key(key, -100))) == described
