"""A Telegram Bot API emulator on 127.0.0.1 for tests that drive the real python-telegram-bot.

It speaks real HTTP (stdlib ThreadingHTTPServer in a background thread) at
`http://127.0.0.1:{port}/bot{token}/{method}`, accepts JSON, form-urlencoded and
multipart bodies as the real server does, and answers `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": N, "description": "..."}` with the real descriptions.

Fidelity notes (what the real server does and where this copy stands):
- HTML parse mode follows tdlib's `parse_html` (td/telegram/MessageEntity.cpp): the same
  tag set, the same error wording ("can't parse entities: Unsupported start tag \"x\" at
  byte offset N", byte offsets in UTF-8), the same entity decoding. Note that tdlib keeps
  an unrecognised `&` (e.g. "R&D", "&foo;") as a literal character rather than failing;
  only `<` is dangerous. We copy that rather than invent a stricter rule.
- Text length is checked after entity parsing (tags and entities do not count). The Bot
  API documents "1-4096 characters"; entity offsets are in UTF-16 code units, and we
  count the limit in UTF-16 code units too. That is the stricter reading (an emoji
  outside the BMP counts 2), so a message that passes here passes on the real server.
- Edits without `reply_markup` remove the inline keyboard, as on the real server.

Faults are programmable (`flood`, `bad_gateway`, `hang`, `force`) and by default apply to
every method except getUpdates, so a bot polling for updates does not swallow them.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest

__all__ = [
    "TOKEN",
    "BotApiEmulator",
    "EntityParseError",
    "Fault",
    "RecordedRequest",
    "SentMessage",
    "botapi_fixture",
    "parse_html",
    "utf16_len",
]

TOKEN = "7000000001:AAEmulatorTestToken_do-not-log-me-42"

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)

BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: how Telegram measures offsets (and, here, the limits)."""
    return len(text.encode("utf-16-le")) // 2


# ---------------------------------------------------------------------------------------
# HTML parse mode: a port of tdlib's parse_html.


class EntityParseError(Exception):
    """The text is not valid Telegram HTML; the message is tdlib's."""


_TAGS = {
    "a",
    "b",
    "strong",
    "i",
    "em",
    "s",
    "strike",
    "del",
    "u",
    "ins",
    "tg-spoiler",
    "tg-emoji",
    "span",
    "pre",
    "code",
    "blockquote",
}
_ENTITY_TYPE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
}
_SPACE = " \t\r\n\0\v"


def _decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    """tdlib's decode_html_entity: (character, position after it) or None to keep '&' literal."""
    end = pos + 1
    res = 0
    if text[end] == "#":
        end += 1
        if text[end] == "x":
            end += 1
            while text[end] in "0123456789abcdefABCDEF":
                res = res * 16 + int(text[end], 16)
                end += 1
                if res >= 0x10FFFF:
                    return None
        else:
            while text[end] in "0123456789":
                res = res * 10 + int(text[end])
                end += 1
                if res >= 0x10FFFF:
                    return None
        if res == 0 or end - pos >= 10 or 0xD800 <= res <= 0xDFFF:
            return None
        ch = chr(res)
    else:
        while text[end].isascii() and text[end].isalpha():
            end += 1
        name = text[pos + 1 : end]
        ch = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(name, "")
        if not ch:
            return None
    if text[end] == ";":
        end += 1
    return ch, end


def _byte_offset(text: str, i: int) -> int:
    return len(text[:i].encode("utf-8"))


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (plain text, entities with UTF-16 offsets), as tdlib does.

    Raises EntityParseError with tdlib's wording on malformed input.
    """
    text = source + "\0"  # tdlib reads a NUL-terminated string; the sentinel keeps the port literal
    n = len(source)
    out: list[str] = []
    u16 = 0
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, str, int]] = []  # tag name, argument, utf16 start
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                ch, i = decoded
                out.append(ch)
                u16 += utf16_len(ch)
                continue
        if c != "<":
            out.append(c)
            u16 += utf16_len(c)
            i += 1
            continue
        begin = i
        i += 1
        if text[i] != "/":
            while text[i] not in _SPACE and text[i] != ">":
                i += 1
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in _TAGS:
                raise EntityParseError(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(source, begin)}'
                )
            argument = ""
            while text[i] != ">":
                while i < n and text[i] in _SPACE:
                    i += 1
                if text[i] == ">":
                    break
                attr_begin = i
                while text[i] not in _SPACE and text[i] != "=":
                    i += 1
                attr = text[attr_begin:i]
                if not attr:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(source, begin)}'
                    )
                while i < n and text[i] in _SPACE:
                    i += 1
                if text[i] != "=":
                    raise EntityParseError(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                        f"at byte offset {_byte_offset(source, begin)}"
                    )
                i += 1
                while i < n and text[i] in _SPACE:
                    i += 1
                if i >= n:
                    raise EntityParseError(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(source, begin)}'
                    )
                if text[i] not in "'\"":
                    token_begin = i
                    while (text[i].isascii() and text[i].isalnum()) or text[i] in ".-":
                        i += 1
                    value = text[token_begin:i].lower()
                    if text[i] not in _SPACE and text[i] != ">":
                        raise EntityParseError(
                            f"Unexpected end of name token at byte offset {_byte_offset(source, token_begin)}"
                        )
                else:
                    quote = text[i]
                    i += 1
                    chars: list[str] = []
                    while text[i] != quote and i < n:
                        if text[i] == "&":
                            decoded = _decode_entity(text, i)
                            if decoded is not None:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(text[i])
                        i += 1
                    value = "".join(chars)
                    if text[i] == quote:
                        i += 1
                if i >= n:
                    raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
                if tag == "a" and attr == "href":
                    argument = value
                elif tag == "code" and attr == "class" and value.startswith("language-"):
                    argument = value[9:]
                elif tag == "span" and attr == "class" and value.startswith("tg-"):
                    argument = value[3:]
                elif tag == "tg-emoji" and attr == "emoji-id":
                    argument = value
                elif tag == "blockquote" and attr == "expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, begin)}'
                )
            stack.append((tag, argument, u16))
            i += 1  # past '>'
        else:
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(source, begin)}")
            while text[i] not in _SPACE and text[i] != ">":
                i += 1
            end_name = text[begin + 2 : i].lower()
            while i < n and text[i] in _SPACE:
                i += 1
            if text[i] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(source, begin)}")
            tag, argument, start = stack.pop()
            if end_name and end_name != tag:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{tag}>", found "</{end_name}>"'
                )
            i += 1
            length = u16 - start
            if length > 0:
                entity: dict[str, Any] = {"type": _ENTITY_TYPE[tag], "offset": start, "length": length}
                if tag == "a":
                    entity["url"] = argument
                elif tag == "blockquote" and argument:
                    entity["type"] = "expandable_blockquote"
                elif tag == "pre" and argument:
                    entity["language"] = argument
                elif tag == "tg-emoji":
                    entity["custom_emoji_id"] = argument
                entities.append(entity)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


# ---------------------------------------------------------------------------------------
# Records


@dataclass
class SentMessage:
    """One message in a chat as the emulator holds it (bot's or injected user's)."""

    message_id: int
    chat_id: int
    date: int
    text: str  # after entity parsing (the caption for photos)
    html: str | None  # as submitted, when parse_mode was HTML
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    from_bot: bool = True
    from_user: dict[str, Any] | None = None
    photo: bytes | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)  # earlier versions, oldest first

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        """The inline keyboard rows, [] when there is none."""
        return (self.reply_markup or {}).get("inline_keyboard", [])


@dataclass
class RecordedRequest:
    """One HTTP request the emulator received, with what it answered."""

    path: str
    api_method: str
    params: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    status: int
    response: dict[str, Any] | str


@dataclass
class Fault:
    """A forced response for the next matching request."""

    status: int
    body: bytes
    content_type: str = "application/json"
    hang_seconds: float = 0.0
    methods: frozenset[str] | None = None  # None: every method except getUpdates

    def applies_to(self, method: str) -> bool:
        if self.methods is None:
            return method.lower() != "getupdates"
        return method.lower() in self.methods


class ApiError(Exception):
    """A Bot API error answer."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    return None


def _is_image(data: bytes) -> bool:
    return (
        data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff" or data[:6] in (b"GIF87a", b"GIF89a")
    )


# ---------------------------------------------------------------------------------------
# The emulator


class BotApiEmulator:
    """The Bot API on 127.0.0.1; state is inspected and faults queued from the test thread."""

    def __init__(self, token: str = TOKEN, *, bot_username: str = "responder_test_bot"):
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Responder",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.requests: list[RecordedRequest] = []
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._blocked: set[int] = set()
        self._messages: dict[int, list[SentMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._faults: list[Fault] = []
        self._poll_generation = 0
        self._polls_waiting = 0
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> BotApiEmulator:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        emulator = self

        class Handler(_Handler):
            api = emulator

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="botapi", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Wake every long poll and hang, stop serving, release the port."""
        self._closing.set()
        with self._changed:
            self._changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        assert self._server is not None, "emulator not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """For ApplicationBuilder().base_url(...) / Bot(base_url=...)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ApplicationBuilder().base_file_url(...)."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- set-up helpers ----------------------------------------------------------------

    def add_user(self, user_id: int, first_name: str = "", username: str | None = None) -> dict[str, Any]:
        """Register a user who has started the bot (so their private chat exists)."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}"}
        if username:
            user["username"] = username
        with self._lock:
            self._users[user_id] = user
            self._chats.setdefault(
                user_id, {"id": user_id, "type": "private", "first_name": user["first_name"]}
            )
        return user

    def add_chat(self, chat_id: int, title: str = "", kind: str | None = None) -> dict[str, Any]:
        """Register a chat the bot is a member of (negative ids are groups by default)."""
        if kind is None:
            kind = (
                "private" if chat_id > 0 else ("supergroup" if str(chat_id).startswith("-100") else "group")
            )
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = title or f"User{chat_id}"
        else:
            chat["title"] = title or f"Chat {chat_id}"
        with self._lock:
            self._chats[chat_id] = chat
        return chat

    def block(self, chat_id: int) -> None:
        """The user blocked the bot (or, for a group, removed it)."""
        with self._lock:
            self._blocked.add(chat_id)

    def flood(self, count: int = 1, retry_after: int = 3, methods: list[str] | None = None) -> None:
        """The next `count` matching calls answer 429 with parameters.retry_after."""
        body = {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        }
        self.force(429, json.dumps(body).encode(), count=count, methods=methods)

    def bad_gateway(self, count: int = 1, methods: list[str] | None = None) -> None:
        """The next `count` matching calls get nginx's 502 HTML page, as when Telegram is down."""
        self.force(502, BAD_GATEWAY_HTML.encode(), count=count, methods=methods, content_type="text/html")

    def hang(self, count: int = 1, seconds: float = 30.0, methods: list[str] | None = None) -> None:
        """The next `count` matching calls get no answer for `seconds`, then the connection drops."""
        self.force(0, b"", count=count, methods=methods, hang_seconds=seconds)

    def force(
        self,
        status: int,
        body: bytes,
        *,
        count: int = 1,
        methods: list[str] | None = None,
        content_type: str = "application/json",
        hang_seconds: float = 0.0,
    ) -> None:
        """Queue `count` forced answers for the next matching calls."""
        wanted = frozenset(m.lower() for m in methods) if methods else None
        with self._lock:
            for _ in range(count):
                self._faults.append(Fault(status, body, content_type, hang_seconds, wanted))

    def pending_faults(self) -> int:
        """How many forced answers are still queued."""
        with self._lock:
            return len(self._faults)

    # -- injecting updates ---------------------------------------------------------

    def _user(self, from_user: int | dict[str, Any]) -> dict[str, Any]:
        if isinstance(from_user, dict):
            with self._lock:
                self._users.setdefault(from_user["id"], from_user)
            return from_user
        with self._lock:
            known = self._users.get(from_user)
        return known or self.add_user(from_user)

    def _chat(self, chat_id: int, user: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            chat = self._chats.get(chat_id)
        if chat is None:
            chat = self.add_chat(chat_id, user["first_name"] if chat_id == user["id"] else "")
        return chat

    def _push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            update = {"update_id": next(self._update_ids), kind: payload}
            self._updates.append(update)
            self._changed.notify_all()
        return update

    def inject_message(self, from_user: int | dict[str, Any], chat_id: int, text: str) -> dict[str, Any]:
        """A user writes `text` in `chat_id`; a leading /command gets its bot_command entity."""
        user = self._user(from_user)
        chat = self._chat(chat_id, user)
        entities: list[dict[str, Any]] = []
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.strip() else text
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
        with self._lock:
            msg = SentMessage(
                message_id=self._new_message_id(chat_id),
                chat_id=chat_id,
                date=int(time.time()),
                text=text,
                html=None,
                entities=entities,
                reply_markup=None,
                from_bot=False,
                from_user=user,
            )
            self._messages.setdefault(chat_id, []).append(msg)
        payload = self._message_json(msg, chat)
        self._push_update("message", payload)
        return payload

    def inject_callback(
        self, from_user: int | dict[str, Any], chat_id: int, message_id: int, data: str
    ) -> str:
        """A user presses an inline button with `data` under a bot message; returns the query id."""
        user = self._user(from_user)
        with self._lock:
            msg = self._find(chat_id, message_id)
            if msg is None:
                raise KeyError(f"no message {message_id} in chat {chat_id} to press a button under")
            chat = self._chats[chat_id]
            query_id = f"{self.bot_id}{next(self._callback_ids):08d}"
            self._open_callbacks.add(query_id)
            payload = {
                "id": query_id,
                "from": user,
                "message": self._message_json(msg, chat),
                "chat_instance": str(abs(chat_id) * 7 + 1),
                "data": data,
            }
        self._push_update("callback_query", payload)
        return query_id

    # -- inspection ------------------------------------------------------------------

    def messages(self, chat_id: int, *, include_users: bool = False) -> list[SentMessage]:
        """Messages in a chat in order; by default only the bot's."""
        with self._lock:
            return [m for m in self._messages.get(chat_id, []) if m.from_bot or include_users]

    def all_messages(self) -> list[SentMessage]:
        """Every bot message in every chat, by chat then order."""
        with self._lock:
            return [m for chat in self._messages.values() for m in chat if m.from_bot]

    def calls(self, api_method: str) -> list[RecordedRequest]:
        """Recorded requests for one method (case-insensitive)."""
        with self._lock:
            return [r for r in self.requests if r.api_method.lower() == api_method.lower()]

    def wait_for_poller(self, timeout: float = 5.0) -> bool:
        """Block until a getUpdates long poll is waiting on the server (True) or `timeout` passes.

        Lets a test inject an update *while* a poll is held open, without sleeping.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._polls_waiting == 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def pending_updates(self) -> int:
        """Updates injected but not yet confirmed by a later getUpdates offset."""
        with self._lock:
            return len(self._updates)

    # -- internals -------------------------------------------------------------------

    def _new_message_id(self, chat_id: int) -> int:
        nxt = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = nxt + 1
        return nxt

    def _find(self, chat_id: int, message_id: int) -> SentMessage | None:
        for m in self._messages.get(chat_id, []):
            if m.message_id == message_id:
                return m
        return None

    def _message_json(self, msg: SentMessage, chat: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": msg.message_id,
            "date": msg.date,
            "chat": chat,
            "from": self.bot_user if msg.from_bot else msg.from_user,
        }
        if msg.photo is not None:
            w, h = _png_size(msg.photo) or (1, 1)
            out["photo"] = [
                {
                    "file_id": f"photo-{msg.chat_id}-{msg.message_id}",
                    "file_unique_id": f"u{msg.chat_id}x{msg.message_id}",
                    "width": w,
                    "height": h,
                    "file_size": len(msg.photo),
                }
            ]
            if msg.text:
                out["caption"] = msg.text
                if msg.entities:
                    out["caption_entities"] = msg.entities
        else:
            out["text"] = msg.text
            if msg.entities:
                out["entities"] = msg.entities
        if msg.edits:
            out["edit_date"] = int(time.time())
        # As the real API: Message.reply_markup is only ever an inline keyboard; a ForceReply
        # or reply keyboard sent with a message is not shown back.
        if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
            out["reply_markup"] = msg.reply_markup
        return out

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for idx, fault in enumerate(self._faults):
                if fault.applies_to(method):
                    return self._faults.pop(idx)
        return None

    def _record(self, rec: RecordedRequest) -> None:
        with self._changed:
            self.requests.append(rec)
            self._changed.notify_all()

    def wait_for_calls(self, api_method: str, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until `count` requests for `api_method` have arrived (a hung one counts on arrival)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.calls(api_method)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def _sleep(self, seconds: float) -> None:
        self._closing.wait(seconds)

    # -- request dispatch (handler threads) ------------------------------------------

    def dispatch(self, method: str, params: dict[str, Any]) -> Any:
        """Run one API method; returns `result` or raises ApiError."""
        handler = getattr(self, f"_api_{method.lower()}", None)
        if handler is None:
            raise ApiError(404, "Not Found")
        return handler(params)

    def _chat_for_send(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("chat_id")
        if raw in (None, ""):
            raise _bad("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None
        with self._lock:
            chat = self._chats.get(chat_id)
            blocked = chat_id in self._blocked
        if chat is None:
            raise _bad("chat not found")
        if blocked:
            if chat["type"] == "private":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, "Forbidden: bot was kicked from the group chat")
        return chat

    @staticmethod
    def _formatted(params: dict[str, Any], key: str) -> tuple[str, str | None, list[dict[str, Any]]]:
        raw = params.get(key)
        raw = "" if raw is None else str(raw)
        mode = str(params.get("parse_mode") or "")
        if mode.lower() == "html":
            try:
                plain, entities = parse_html(raw)
            except EntityParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
            return plain, raw, entities
        if mode:
            if mode.lower() not in ("markdown", "markdownv2"):
                raise _bad(f"unsupported parse_mode {mode}")
            raise _bad("this emulator supports parse_mode HTML only")
        entities = _json_param(params, "entities" if key == "text" else f"{key}_entities") or []
        return raw, None, entities

    @staticmethod
    def _markup(params: dict[str, Any]) -> dict[str, Any] | None:
        raw = params.get("reply_markup")
        if raw in (None, ""):
            return None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise _bad("can't parse reply keyboard markup JSON object") from None
        if not isinstance(raw, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        rows = raw.get("inline_keyboard")
        if rows is None:
            return raw
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad(
                'can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or "text" not in button:
                    raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
                if "callback_data" in button:
                    size = len(str(button["callback_data"]).encode("utf-8"))
                    if not 1 <= size <= MAX_CALLBACK_DATA:
                        raise _bad("BUTTON_DATA_INVALID")
                elif not (
                    {"url", "switch_inline_query", "login_url", "web_app", "copy_text"} & button.keys()
                ):
                    raise _bad(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                    )
        return raw

    def _api_getme(self, params: dict[str, Any]) -> Any:
        return self.bot_user

    def _api_deletewebhook(self, params: dict[str, Any]) -> Any:
        return True

    def _api_setmycommands(self, params: dict[str, Any]) -> Any:
        commands = _json_param(params, "commands")
        if not isinstance(commands, list):
            raise _bad("commands must be an Array")
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = json.dumps([_json_param(params, "scope"), params.get("language_code") or ""], sort_keys=True)
        with self._lock:
            self.commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        return True

    def _api_getmycommands(self, params: dict[str, Any]) -> Any:
        key = json.dumps([_json_param(params, "scope"), params.get("language_code") or ""], sort_keys=True)
        with self._lock:
            return list(self.commands.get(key, []))

    def _api_sendmessage(self, params: dict[str, Any]) -> Any:
        chat = self._chat_for_send(params)
        text, html, entities = self._formatted(params, "text")
        if not text.strip():
            raise _bad("message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise _bad("message is too long")
        markup = self._markup(params)
        with self._lock:
            msg = SentMessage(
                message_id=self._new_message_id(chat["id"]),
                chat_id=chat["id"],
                date=int(time.time()),
                text=text,
                html=html,
                entities=entities,
                reply_markup=markup,
            )
            self._messages.setdefault(chat["id"], []).append(msg)
            return self._message_json(msg, chat)

    def _api_sendphoto(self, params: dict[str, Any]) -> Any:
        chat = self._chat_for_send(params)
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo[len("attach://") :])
        if not isinstance(photo, bytes):
            raise _bad("there is no photo in the request")
        if not _is_image(photo):
            raise _bad("IMAGE_PROCESS_FAILED")
        caption, html, entities = self._formatted(params, "caption")
        if utf16_len(caption) > MAX_CAPTION:
            raise _bad("message caption is too long")
        markup = self._markup(params)
        with self._lock:
            msg = SentMessage(
                message_id=self._new_message_id(chat["id"]),
                chat_id=chat["id"],
                date=int(time.time()),
                text=caption,
                html=html,
                entities=entities,
                reply_markup=markup,
                photo=photo,
            )
            self._messages.setdefault(chat["id"], []).append(msg)
            return self._message_json(msg, chat)

    def _edit_target(self, params: dict[str, Any]) -> tuple[dict[str, Any], SentMessage]:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._chat_for_send(params)
        try:
            message_id = int(params.get("message_id") or 0)
        except (TypeError, ValueError):
            raise _bad("message identifier is not specified") from None
        if not message_id:
            raise _bad("message identifier is not specified")
        msg = self._find(chat["id"], message_id)
        if msg is None:
            raise _bad("message to edit not found")
        if not msg.from_bot:
            raise _bad("message can't be edited")
        return chat, msg

    def _apply_edit(
        self,
        chat: dict[str, Any],
        msg: SentMessage,
        text: str,
        html: str | None,
        entities: list[dict[str, Any]],
        markup: dict[str, Any] | None,
    ) -> Any:
        if (text, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        msg.edits.append(
            {"text": msg.text, "html": msg.html, "entities": msg.entities, "reply_markup": msg.reply_markup}
        )
        msg.text, msg.html, msg.entities, msg.reply_markup = text, html, entities, markup
        return self._message_json(msg, chat)

    def _api_editmessagetext(self, params: dict[str, Any]) -> Any:
        with self._lock:
            chat, msg = self._edit_target(params)
            if msg.photo is not None:
                raise _bad("there is no text in the message to edit")
            text, html, entities = self._formatted(params, "text")
            if not text.strip():
                raise _bad("message text is empty")
            if utf16_len(text) > MAX_TEXT:
                raise _bad("MESSAGE_TOO_LONG")
            return self._apply_edit(chat, msg, text, html, entities, self._markup(params))

    def _api_editmessagecaption(self, params: dict[str, Any]) -> Any:
        with self._lock:
            chat, msg = self._edit_target(params)
            if msg.photo is None:
                raise _bad("there is no caption in the message to edit")
            text, html, entities = self._formatted(params, "caption")
            if utf16_len(text) > MAX_CAPTION:
                raise _bad("message caption is too long")
            return self._apply_edit(chat, msg, text, html, entities, self._markup(params))

    def _api_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        with self._lock:
            chat, msg = self._edit_target(params)
            return self._apply_edit(chat, msg, msg.text, msg.html, msg.entities, self._markup(params))

    def _api_answercallbackquery(self, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        text = str(params.get("text") or "")
        if utf16_len(text) > MAX_CALLBACK_ANSWER:
            raise _bad("MESSAGE_TOO_LONG")
        with self._lock:
            if query_id not in self._open_callbacks:
                raise _bad("query is too old and response timeout expired or query ID is invalid")
            self._open_callbacks.discard(query_id)
            show_alert = params.get("show_alert")
            self.callback_answers[query_id] = {
                "text": text,
                "show_alert": show_alert in (True, "true", "True", "1"),
            }
        return True

    def _api_getupdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        deadline = time.monotonic() + timeout
        with self._changed:
            # A newer getUpdates terminates an older one, as on the real server.
            self._poll_generation += 1
            generation = self._poll_generation
            self._changed.notify_all()
            if offset:
                # Confirming: everything below `offset` is forgotten (negative: keep the last -offset).
                if offset > 0:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                else:
                    self._updates = self._updates[offset:]
            while True:
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                if self._updates or self._closing.is_set():
                    return self._updates[:limit]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._polls_waiting += 1
                self._changed.notify_all()
                try:
                    self._changed.wait(remaining)
                finally:
                    self._polls_waiting -= 1


def _json_param(params: dict[str, Any], key: str) -> Any:
    """Form bodies carry objects as JSON strings, JSON bodies as objects: accept both."""
    value = params.get(key)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(f"can't parse {key} JSON object") from None
    return value


class _Handler(BaseHTTPRequestHandler):
    api: BotApiEmulator
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.18.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read api.requests instead
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _params(self, body: bytes) -> dict[str, Any]:
        params: dict[str, Any] = {}
        query = self.path.partition("?")[2]
        for k, v in parse_qsl(query, keep_blank_values=True):
            params[k] = v
        ctype = self.headers.get("Content-Type", "")
        if not body:
            return params
        if ctype.startswith("application/json"):
            decoded = json.loads(body or b"{}")
            if isinstance(decoded, dict):
                params.update(decoded)
        elif ctype.startswith("application/x-www-form-urlencoded"):
            for k, v in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
                params[k] = v
        elif ctype.startswith("multipart/form-data"):
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {ctype}\r\n\r\n".encode() + body
            )
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True) or b""
                if part.get_filename() is not None:
                    params[str(name)] = payload
                else:
                    params[str(name)] = payload.decode("utf-8")
        return params

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        api = self.api
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.partition("?")[0]
        headers = {k: v for k, v in self.headers.items()}
        match = re.fullmatch(r"/bot([^/]*)/([A-Za-z]+)", path)
        api_method = match.group(2) if match else ""

        def record(status: int, response: dict[str, Any] | str, params: dict[str, Any]) -> None:
            api._record(RecordedRequest(path, api_method, params, body, headers, status, response))

        fault = api._take_fault(api_method) if match else None
        if fault is not None:
            if fault.hang_seconds:
                record(0, "hang", {})
                api._sleep(fault.hang_seconds)
                self.close_connection = True
                return
            record(fault.status, fault.body.decode("utf-8", "replace"), {})
            self._send(fault.status, fault.body, fault.content_type)
            return

        if match is None:
            answer = {"ok": False, "error_code": 404, "description": "Not Found"}
            record(404, answer, {})
            self._send(404, json.dumps(answer).encode())
            return
        try:
            params = self._params(body)
        except (ValueError, UnicodeDecodeError):
            answer = {"ok": False, "error_code": 400, "description": "Bad Request: invalid request body"}
            record(400, answer, {})
            self._send(400, json.dumps(answer).encode())
            return
        if match.group(1) != api.token:
            # A well-formed but wrong token is 401; a malformed one 404, as on the real server.
            code, desc = (401, "Unauthorized") if ":" in match.group(1) else (404, "Not Found")
            answer = {"ok": False, "error_code": code, "description": desc}
            record(code, answer, params)
            self._send(code, json.dumps(answer).encode())
            return
        try:
            result = api.dispatch(api_method, params)
        except ApiError as exc:
            answer = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.parameters:
                answer["parameters"] = exc.parameters
            record(exc.code, answer, params)
            self._send(exc.code, json.dumps(answer, ensure_ascii=False).encode())
            return
        answer = {"ok": True, "result": result}
        record(200, answer, params)
        self._send(200, json.dumps(answer, ensure_ascii=False).encode())


@pytest.fixture(name="botapi")
def botapi_fixture() -> Iterator[BotApiEmulator]:
    """A running emulator (token `TOKEN`), closed after the test.

    Use in a test module with `from botapi import botapi_fixture  # noqa: F401`
    and a `botapi` argument.
    """
    emulator = BotApiEmulator().start()
    try:
        yield emulator
    finally:
        emulator.close()
