"""pydantic's validation errors in the catalogue's words, with what each names (a limit, the
values allowed, the date that does not exist), for `configfile.problems_from`.

Our own validators raise ValueError with a catalogue sentence already; an error type not
listed here keeps pydantic's own (English) words inside a catalogue sentence.
"""

from __future__ import annotations

import calendar
import re

from pydantic_core import ErrorDetails

from .i18n import t

__all__ = ["impossible_moment", "message_of"]

# pydantic's error types → the catalogue's words; the limit the error names goes in `{limit}`.
_MESSAGES: dict[str, str] = {
    "extra_forbidden": "config_unknown_field",
    "missing": "config_missing",
    "int_type": "config_not_int",
    "int_parsing": "config_not_int",
    "int_from_float": "config_not_int",
    "float_type": "config_not_number",
    "float_parsing": "config_not_number",
    "bool_type": "config_not_bool",
    "bool_parsing": "config_not_bool",
    "string_type": "config_not_text",
    "list_type": "config_not_list",
    "dict_type": "config_not_mapping",
    "model_type": "config_not_mapping",
    "model_attributes_type": "config_not_mapping",
    "date_type": "config_not_date",
    "date_parsing": "config_not_date",
    "date_from_datetime_parsing": "config_not_date",
    "date_from_datetime_inexact": "config_not_date",
    "datetime_type": "config_not_datetime",
    "datetime_parsing": "config_not_datetime",
    "datetime_from_date_parsing": "config_not_datetime",
    "time_type": "config_not_time",
    "time_parsing": "config_not_time",
}
_LIMITS: dict[str, tuple[str, str]] = {
    "greater_than": ("config_more_than", "gt"),
    "greater_than_equal": ("config_at_least", "ge"),
    "less_than": ("config_less_than", "lt"),
    "less_than_equal": ("config_at_most", "le"),
    "string_too_short": ("config_too_short_text", "min_length"),
    "string_too_long": ("config_too_long_text", "max_length"),
    "too_short": ("config_too_few_items", "min_length"),
    "too_long": ("config_too_many_items", "max_length"),
    "string_pattern_mismatch": ("config_pattern", "pattern"),
}


_DATE_TYPES = frozenset(
    k for k, v in _MESSAGES.items() if v in ("config_not_date", "config_not_datetime", "config_not_time")
)
# A date, optionally followed by a time of day, or a time of day alone: the shapes YAML
# and pydantic read as such, whose numbers can still be out of range.
_MOMENT = re.compile(
    r"\s*(?:(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2}))?"
    r"(?:(?(y)(?:[Tt]|\s+))(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?"
)


def impossible_moment(text: str) -> str | None:
    """What is out of range in a date or time written in the right shape (`2026-13-05`,
    `2026-02-30`, `25:00`), in the catalogue's words; None when nothing is."""
    m = _MOMENT.match(text)
    if m is None or (m["y"] is None and m["h"] is None):
        return None
    if m["y"] is not None:
        year, month, day = int(m["y"]), int(m["mo"]), int(m["d"])
        if not 1 <= month <= 12:
            return t("config_no_such_month", value=text.strip(), month=month)
        days = calendar.monthrange(year, month)[1]
        if not 1 <= day <= days:
            return t("config_no_such_day", value=text.strip(), year=year, month=month, days=days)
    if m["h"] is not None and (int(m["h"]) > 23 or int(m["mi"]) > 59 or int(m["s"] or 0) > 59):
        return t("config_no_such_clock", value=text.strip())
    return None


def message_of(err: ErrorDetails) -> str:
    """One pydantic error in the catalogue's words, with what it names (a limit, the values allowed).

    Our validators raise ValueError with a catalogue sentence already; an error type not
    listed here keeps pydantic's own (English) words inside a catalogue sentence.
    """
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind in _DATE_TYPES and isinstance(err.get("input"), str):
        # `start: 2026-13-05`: the shape of a date with a month that does not exist.
        impossible = impossible_moment(err["input"])
        if impossible is not None:
            return impossible
    if kind in _MESSAGES:
        return t(_MESSAGES[kind])
    if kind in _LIMITS:
        key, name = _LIMITS[kind]
        return t(key, limit=ctx.get(name, "?"))
    if kind in ("enum", "literal_error"):
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", ""))) or [str(ctx.get("expected", ""))]
        return t("config_one_of", expected=t("config_list_separator").join(expected))
    return t("config_invalid", detail=err["msg"])
