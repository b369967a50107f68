"""Pure parsing of chat command arguments: `/ack 12`, `/done 12 statement https://...`.

Each parser takes the words after the command and returns typed values, or raises
`UsageError` naming the command, whose message is that command's usage line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..engine.actions import MAX_INCIDENT_ID
from ..i18n import t
from ..vocab import Channel, Outlet

__all__ = [
    "CHANNEL_ALIASES",
    "HEAD_WORDS",
    "OUTLET_ALIASES",
    "DoneArgs",
    "ExtendArgs",
    "InquiryArgs",
    "UsageError",
    "is_link",
    "parse_dismiss",
    "parse_done",
    "parse_extend",
    "parse_id",
    "parse_inquiry",
    "parse_optional_id",
    "parse_week",
    "parse_year",
    "plausible_id",
]

# What people type for an outlet: the config key, or its everyday Chinese name.
_OUTLET_WORDS: dict[Channel, tuple[str, ...]] = {
    Channel.PORTAL: ("portal", "门户", "门户网站", "网站", "官网"),
    Channel.WEIBO: ("weibo", "微博", "政务微博"),
    Channel.WECHAT: ("wechat", "微信", "公众号", "微信公众号"),
    Channel.APP: ("app", "客户端", "政务客户端"),
}
CHANNEL_ALIASES: dict[str, Channel] = {word: ch for ch, words in _OUTLET_WORDS.items() for word in words}
# Where a statement may also have been published: at a press conference, or elsewhere.
_MORE_OUTLETS: dict[Outlet, tuple[str, ...]] = {
    Outlet.PRESS_CONFERENCE: ("press_conference", "press", "发布会", "新闻发布会"),
    Outlet.OTHER: ("other", "其他", "其它", "其他渠道"),
}
OUTLET_ALIASES: dict[str, Outlet] = {w: Outlet(ch) for w, ch in CHANNEL_ALIASES.items()} | {
    word: o for o, words in _MORE_OUTLETS.items() for word in words
}
# Whether the head attended a press conference (其中：主要负责同志参加).
HEAD_WORDS: dict[str, bool] = {
    **dict.fromkeys(("head", "主要负责同志参加", "主要负责同志出席", "负责人参加", "负责人出席"), True),
    **dict.fromkeys(
        ("nohead", "no-head", "主要负责同志未参加", "主要负责同志未出席", "负责人未参加", "负责人未出席"),
        False,
    ),
}

_USAGE: dict[str, str] = {
    "ack": "tg_usage_ack",
    "done": "tg_usage_done",
    "extend": "tg_usage_extend",
    "dismiss": "tg_usage_dismiss",
    "close": "tg_usage_close",
    "status": "tg_usage_status",
    "summary": "tg_usage_summary",
    "calendar_confirm": "tg_usage_calendar_confirm",
    "inquiry": "tg_usage_inquiry",
}


class UsageError(ValueError):
    """Arguments that do not fit the command; the message is its usage line."""

    def __init__(self, command: str):
        super().__init__(t(_USAGE[command]))
        self.command = command


@dataclass(frozen=True)
class DoneArgs:
    """`/done ID [STEP[:CHANNEL]] [OUTLET…] [head|nohead] [link]`: step None means the earliest
    open one; `outlets` say where it was published (one own outlet also picks a repost's
    outlet); `head` whether the head attended a press conference (None: not said)."""

    incident_id: int
    step: str | None
    channel: str
    link: str | None
    outlets: tuple[Outlet, ...] = ()
    head: bool | None = None


def plausible_id(word: str) -> int | None:
    """The incident number `word` names (`12`, `#12`), or None when it cannot be one (not
    digits, 0, or beyond the largest id there can be: a 30-digit number names nothing)."""
    w = word.lstrip("#")
    if not w.isascii() or not w.isdigit() or len(w) > len(str(MAX_INCIDENT_ID)):
        return None
    n = int(w)
    return n if 0 < n <= MAX_INCIDENT_ID else None


def _id(word: str, command: str) -> int:
    n = plausible_id(word)
    if n is None:
        raise UsageError(command)
    return n


def is_link(word: str) -> bool:
    """Is `word` a web address (http:// or https:// and something after it)?"""
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
    """`ID [STEP | STEP:CHANNEL] [OUTLET…] [head|nohead] [LINK]`, in that order, each optional
    after the id. A first word that is an own outlet (`/done 12 微博`) names no step."""
    if not args:
        raise UsageError("done")
    iid = _id(args[0], "done")
    rest = list(args[1:])
    link = rest.pop() if rest and is_link(rest[-1]) else None
    step: str | None = None
    channel = ""
    if rest and rest[0] not in CHANNEL_ALIASES and rest[0] not in HEAD_WORDS:
        step, _, ch = rest.pop(0).partition(":")
        if ch:
            if ch not in CHANNEL_ALIASES:
                raise UsageError("done")
            channel = CHANNEL_ALIASES[ch]
    outlets: list[Outlet] = []
    head: bool | None = None
    for word in rest:
        if word in OUTLET_ALIASES:
            outlets.append(OUTLET_ALIASES[word])
        elif word in HEAD_WORDS and head is None:
            head = HEAD_WORDS[word]
        else:
            raise UsageError("done")
    if step is not None and not step:
        raise UsageError("done")
    return DoneArgs(iid, step, channel, link, tuple(dict.fromkeys(outlets)), head)


@dataclass(frozen=True)
class ExtendArgs:
    """`/extend ID STEP reason...`: the step (key or title) and why it needs longer."""

    incident_id: int
    step: str
    reason: str


def parse_extend(args: Sequence[str]) -> ExtendArgs:
    """`ID STEP reason...`: the reason is required (the record of why the office took longer)."""
    if len(args) < 3:
        raise UsageError("extend")
    return ExtendArgs(_id(args[0], "extend"), args[1], " ".join(args[2:]))


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


def parse_year(args: Sequence[str]) -> int | None:
    """No argument (the newest offer) or one year such as 2027."""
    if not args:
        return None
    if len(args) != 1 or not args[0].isascii() or not args[0].isdigit() or len(args[0]) != 4:
        raise UsageError("calendar_confirm")
    return int(args[0])


@dataclass(frozen=True)
class InquiryArgs:
    """`/inquiry TITLE… [LINK]`: the suggestion's gist and where it was received (None: not said)."""

    title: str
    link: str | None


def parse_inquiry(args: Sequence[str]) -> InquiryArgs:
    """`TITLE… [LINK]`: the words are the gist (required); a last word that is a web address is
    where the suggestion was received."""
    words = list(args)
    link = words.pop() if words and is_link(words[-1]) else None
    if not words:
        raise UsageError("inquiry")
    return InquiryArgs(" ".join(words), link)
