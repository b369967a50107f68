"""Make a feed's text safe to hand to an XML parser: no document type declaration, no entity
definitions, no characters XML forbids.

A document type declaration can define entities that expand into other entities ("billion
laughs": ten levels of ten references is 10¹⁰ copies). feedparser strips DOCTYPEs with a
regular expression that stops at the first `>`, so a one-line DOCTYPE full of entity
definitions reaches its parsers anyway; one such 0.5 MB feed took a gigabyte of memory.
Here the whole declaration, internal subset included, is cut out before any parser runs:

- a declaration whose entities refer to other entities (nesting: the only way to amplify)
  is refused outright, as is one whose expansion would more than double the text;
- simple entities (plain text or character references, e.g. `<!ENTITY id "tag:x,">`) are
  substituted as escaped text, so feeds that use them honestly still read the same;
- named references left over are HTML's (`&nbsp;`, `&copy;`): they become numeric
  references, so the strict parser accepts them; unknown names become visible text
  (`&amp;name;`) instead of a fatal error;
- C0 control characters (other than tab, newline, carriage return), which no XML parser
  accepts, are dropped when a parse failed on them (`drop_forbidden_chars`).
"""

from __future__ import annotations

import re
from html.entities import html5
from typing import NamedTuple

from ..i18n import t

__all__ = ["EntityExpansion", "drop_forbidden_chars", "neutralise"]

_DECLARATION = re.compile(r"<!(?:DOCTYPE|ENTITY)\b", re.IGNORECASE)
_DECLARATION_OR_CDATA = re.compile(r"<!\[CDATA\[.*?\]\]>|<!(?:DOCTYPE|ENTITY)\b", re.S | re.IGNORECASE)
# Tokens inside a declaration that may contain '>' or brackets without ending it. A comment or
# processing instruction never closed runs to the end (as for an XML parser): looking for its
# end again from every `<!--` of a hostile one-line DOCTYPE took time growing with the
# square of its length.
_DECL_TOKEN = re.compile(r'"[^"]*"|\'[^\']*\'|<!--.*?(?:-->|\Z)|<\?.*?(?:\?>|\Z)|\[|\]|>', re.S)
_ENTITY = re.compile(
    r"<!ENTITY\s+(?P<pe>%\s+)?(?P<name>[^\s\"'>%]+)\s+"
    r"(?:(?P<q>[\"'])(?P<value>.*?)(?P=q)|(?:SYSTEM|PUBLIC)\b[^>]*)",
    re.S | re.IGNORECASE,
)
_REFERENCE = re.compile(r"[&%]([A-Za-z_:][\w.:-]*);")
_CHAR_REFS_ONLY = re.compile(r"(?:[^&%]|&#\d+;|&#x[0-9A-Fa-f]+;)*", re.S)
# A named reference that is not one of XML's five, outside CDATA (which is literal text).
_ODD_REF = re.compile(r"&(?!(?:amp|lt|gt|quot|apos);)[A-Za-z_:][\w.:-]*;")
_CDATA_OR_REF = re.compile(r"<!\[CDATA\[.*?\]\]>|&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z_:][\w.:-]*);", re.S)
_FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class EntityExpansion(ValueError):
    """The document defines entities in terms of other entities, or expands past its bound."""


class _Declarations(NamedTuple):
    text: str
    entities: dict[str, str]  # simple general entities: name -> replacement text


def _declaration_end(text: str, start: int) -> int:
    """Index just past the declaration starting at `start` (`<!DOCTYPE ...>` with its subset)."""
    depth = 0
    for m in _DECL_TOKEN.finditer(text, start + 2):
        token = m.group(0)
        if token == "[":
            depth += 1
        elif token == "]":
            depth = max(0, depth - 1)
        elif token == ">" and depth == 0:
            return m.end()
    return len(text)  # never closed: the rest is the declaration


def _definitions(declaration: str) -> dict[str, str]:
    """Simple general entities of one declaration; raises EntityExpansion on nesting."""
    general: dict[str, str] = {}
    parameter: set[str] = set()
    values: list[str] = []
    for m in _ENTITY.finditer(declaration):
        name, value = m.group("name"), m.group("value")
        if m.group("pe"):
            parameter.add(name)
        if value is None:
            continue  # external (SYSTEM/PUBLIC): never fetched, simply dropped
        values.append(value)
        if not m.group("pe") and _CHAR_REFS_ONLY.fullmatch(value):
            general[name] = value
    defined = parameter | {m.group("name") for m in _ENTITY.finditer(declaration)}
    for value in values:
        if any(ref in defined for ref in _REFERENCE.findall(value)):
            raise EntityExpansion(t("feed_error_entity_expansion"))
    return general


def _strip_declarations(text: str) -> _Declarations:
    """Cut every DOCTYPE and ENTITY declaration out of `text`."""
    parts: list[str] = []
    entities: dict[str, str] = {}
    pos = 0
    for m in _DECLARATION_OR_CDATA.finditer(text):
        if m.start() < pos or m.group(0).startswith("<![CDATA["):
            continue  # inside a declaration already cut, or literal text
        end = _declaration_end(text, m.start())
        entities.update(_definitions(text[m.start() : end]))
        parts.append(text[pos : m.start()])
        pos = end
    parts.append(text[pos:])
    return _Declarations("".join(parts), entities)


def _escape(value: str) -> str:
    """Entity replacement text as character data: markup in it stays text."""
    return re.sub(r"&(?!#)", "&amp;", value).replace("<", "&lt;").replace(">", "&gt;")


def _references(text: str, entities: dict[str, str]) -> str:
    """Named references outside CDATA: declared ones substituted, HTML ones numeric, others text."""
    limit = max(len(text), 64 * 1024)
    grown = 0

    def replace(m: re.Match[str]) -> str:
        nonlocal grown
        name = m.group(1)
        if name is None:
            return m.group(0)  # a CDATA section, literal
        if name in entities:
            value = _escape(entities[name])
            grown += len(value)
            if grown > limit:
                raise EntityExpansion(t("feed_error_entity_expansion"))
            return value
        chars = html5.get(name + ";")
        if chars is not None:
            return "".join(f"&#{ord(c)};" for c in chars)
        return "&amp;" + name + ";"

    return _CDATA_OR_REF.sub(replace, text)


def neutralise(text: str) -> str:
    """`text` without DOCTYPE/ENTITY declarations; odd named references made harmless.

    Raises EntityExpansion (a ValueError with a message for the user) when the document
    defines nested entities or its simple entities would more than double it.
    """
    entities: dict[str, str] = {}
    if _DECLARATION.search(text):
        text, entities = _strip_declarations(text)
    if _ODD_REF.search(text):
        text = _references(text, entities)
    return text


def drop_forbidden_chars(text: str) -> str | None:
    """`text` without the characters XML forbids (C0 controls but tab and line breaks); None if it has none.

    Called only after a parse failed: scanning every healthy feed for them costs as much
    as the rest of this module together.
    """
    return _FORBIDDEN_CHARS.sub("", text) if _FORBIDDEN_CHARS.search(text) else None
