"""A feed document cut into its items, and the keys that recognise an item parsed before.

`parse.parse_feed` parses only the items whose XML changed since the last poll: it cuts
the document into header, items and footer (`split_items`, only when the cut is certainly
right) and keys each item by the hash of its XML (`item_key`). The service keeps every
feed's keys between polls, packed (`pack_keys`): 12 bytes an item.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Split", "item_key", "pack_keys", "split_items", "unpack_keys"]

_ITEM_START = re.compile(r"<(item|entry)(?=[\s>/])")
_ITEM_END = {name: re.compile(rf"</{name}\s*>") for name in ("item", "entry")}
_ONLY_CLOSING_TAGS = re.compile(r"(?:\s*</[\w:.-]+\s*>)*\s*")
_KEY_BYTES = 12


def pack_keys(keys: frozenset[str]) -> bytes:
    """Item keys (hex digests) as one bytes object: 100,000 feeds of 50 items fit in a few dozen MB."""
    return b"".join(sorted(bytes.fromhex(k) for k in keys))


def unpack_keys(packed: bytes | None) -> frozenset[str]:
    """The inverse of `pack_keys`."""
    if not packed:
        return frozenset()
    return frozenset(packed[i : i + _KEY_BYTES].hex() for i in range(0, len(packed), _KEY_BYTES))


def item_key(chunk: str) -> str:
    return hashlib.blake2b(chunk.encode("utf-8"), digest_size=_KEY_BYTES).hexdigest()


@dataclass(frozen=True, slots=True)
class Split:
    head: str
    items: list[str]
    tail: str


def _item_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, tag) of each RSS item or Atom entry: the matches of `_ITEM`, found with
    str.find and two small patterns instead of a lazy scan of the whole document."""
    pos = 0
    while (m := _ITEM_START.search(text, pos)) is not None:
        name, after = m.group(1), m.end()
        gt = text.find(">", after)
        if gt > after and text[gt - 1] == "/":  # <item .../>
            yield m.start(), gt + 1, name
            pos = gt + 1
            continue
        close = _ITEM_END[name].search(text, after)
        if close is None:
            pos = m.start() + 1
            continue
        yield m.start(), close.end(), name
        pos = close.end()


def split_items(text: str) -> Split | None:
    """The document as header, items, footer; None unless the cut is certainly right."""
    spans = list(_item_spans(text))
    if not spans:
        return None
    first, _, tag = spans[0]
    items: list[str] = []
    end = first
    for start, stop, name in spans:
        chunk = text[start:stop]
        if name != tag or (start > end and text[end:start].strip()):
            return None  # other elements between items: keep the document whole
        # A closing tag inside CDATA or a nested item would have cut the item short.
        if chunk.count("<![CDATA[") != chunk.count("]]>") or chunk.find(f"<{tag}", 1) != -1:
            return None
        items.append(chunk)
        end = stop
    head, tail = text[:first], text[end:]
    unbalanced_head = head.count("<![CDATA[") != head.count("]]>")
    if unbalanced_head or f"<{tag}" in head or not _ONLY_CLOSING_TAGS.fullmatch(tail):
        return None
    return Split(head, items, tail)
