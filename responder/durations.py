"""Parsing of the duration strings used in config files: 30s, 5m, 5h, 24h, 2d."""

from __future__ import annotations

import re
from datetime import timedelta

from .i18n import t

__all__ = ["format_duration", "parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str | int | float) -> timedelta:
    """Parse '90s', '5m', '1h30m', '24h', '2d' (a bare number is seconds)."""
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    s = str(text).strip().lower().replace(" ", "")
    if not s:
        raise ValueError(t("config_duration_empty"))
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(t("config_not_duration", value=text))
    return timedelta(seconds=total)


def format_duration(td: timedelta) -> str:
    """Shortest round-trippable spelling, e.g. 5h, 1h30m, 45s."""
    secs = int(td.total_seconds())
    if secs == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= size:
            out.append(f"{secs // size}{unit}")
            secs %= size
    return "".join(out)
