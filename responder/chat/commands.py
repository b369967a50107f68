"""Pure parsing of chat command arguments: `/ack 12`, `/done 12 statement https://...`.

Each parser takes the words after the command and returns typed values, or raises
`UsageError` naming the command, whose message is that command's usage line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..i18n import t

__all__ = [
    "CHANNEL_ALIASES",
    "DoneArgs",
    "UsageError",
    "parse_dismiss",
    "parse_done",
    "parse_id",
    "parse_optional_id",
    "parse_week",
]

# What people type for an outlet: the config key, or its everyday Chinese name.
CHANNEL_ALIASES: dict[str, str] = {
    "portal": "portal", "门户": "portal", "门户网站": "portal", "网站": "portal", "官网": "portal",
    "weibo": "weibo", "微博": "weibo", "政务微博": "weibo",
    "wechat": "wechat", "微信": "wechat", "公众号": "wechat", "微信公众号": "wechat",
    "app": "app", "客户端": "app", "政务客户端": "app",
}  # fmt: skip


class UsageError(ValueError):
    """Arguments that do not fit the command; the message is its usage line."""

    def __init__(self, command: str):
        super().__init__(t("tg_usage_" + command))
        self.command = command


@dataclass(frozen=True)
class DoneArgs:
    """`/done ID [STEP[:CHANNEL]] [CHANNEL] [link]`: step None means the earliest open one."""

    incident_id: int
    step: str | None
    channel: str
    link: str | None


def _id(word: str, command: str) -> int:
    w = word.lstrip("#")
    if not w.isascii() or not w.isdigit() or int(w) <= 0:
        raise UsageError(command)
    return int(w)


def _is_link(word: str) -> bool:
    return word.lower().startswith(("http://", "https://")) and len(word) > len("https://")


def parse_id(args: Sequence[str], command: str) -> int:
    """Exactly one incident id (`12` or `#12`)."""
    if len(args) != 1:
        raise UsageError(command)
    return _id(args[0], command)


def parse_optional_id(args: Sequence[str], command: str) -> int | None:
    """No argument, or one incident id."""
    if not args:
        return None
    return parse_id(args, command)


def parse_done(args: Sequence[str]) -> DoneArgs:
    """`ID [STEP | STEP:CHANNEL] [CHANNEL] [LINK]`, in that order, each optional after the id."""
    if not args:
        raise UsageError("done")
    iid = _id(args[0], "done")
    rest = list(args[1:])
    link = rest.pop() if rest and _is_link(rest[-1]) else None
    step: str | None = None
    channel = ""
    if rest:
        word = rest.pop(0)
        if word in CHANNEL_ALIASES:  # `/done 12 微博`: the open step on that outlet
            channel = CHANNEL_ALIASES[word]
        else:
            step, _, ch = word.partition(":")
            if ch:
                if ch not in CHANNEL_ALIASES:
                    raise UsageError("done")
                channel = CHANNEL_ALIASES[ch]
    if rest and not channel and rest[0] in CHANNEL_ALIASES:
        channel = CHANNEL_ALIASES[rest.pop(0)]
    if rest or (step is not None and not step):
        raise UsageError("done")
    return DoneArgs(iid, step, channel, link)


def parse_dismiss(args: Sequence[str]) -> tuple[int, str]:
    """`ID reason...`: the reason is required (it is the record of why no response was owed)."""
    if len(args) < 2:
        raise UsageError("dismiss")
    return _id(args[0], "dismiss"), " ".join(args[1:])


def parse_week(args: Sequence[str]) -> str | None:
    """No argument (last complete week) or one ISO week such as 2026-W47."""
    if not args:
        return None
    if len(args) != 1:
        raise UsageError("summary")
    return args[0].upper()
