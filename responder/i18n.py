"""The message catalogue: every user-facing sentence comes from locales/<lang>.yaml.

Simplified Chinese (`zh`) is the default; `en` sits beside it with the same keys. The
language is chosen once at start (`use_language`, from `RESPONDER_LANG` through
`responder.env`). Tests check that both catalogues have exactly the same keys and
placeholders, and that every key is written out somewhere in the code.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

__all__ = ["Catalogue", "catalogue", "t", "use_language"]

_language: str | None = None

_DIR = Path(__file__).parent / "locales"


class Catalogue:
    """Templates for one language, filled with str.format."""

    def __init__(self, lang: str):
        path = _DIR / f"{lang}.yaml"
        if not path.exists():
            raise ValueError(f"no message catalogue for language {lang!r} (looked for {path})")
        self.lang = lang
        self.messages: dict[str, str] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}

    def __call__(self, key: str, /, **params: object) -> str:
        try:
            template = self.messages[key]
        except KeyError:
            raise KeyError(f"message {key!r} missing from catalogue {self.lang!r}") from None
        return template.format(**params) if params else template


def use_language(lang: str) -> None:
    """Speak `lang` from now on (the service calls this once, at start)."""
    global _language
    _load(lang)  # an unknown language fails here, at start, not at the first message
    _language = lang


def catalogue(lang: str | None = None) -> Catalogue:
    """The catalogue for `lang`, else the language chosen at start, else the environment's."""
    if lang is None and _language is None:
        from .env import Environment

        use_language(Environment.read_language())
    return _load(lang or _language or "zh")


@cache
def _load(lang: str) -> Catalogue:
    return Catalogue(lang)


def t(key: str, /, **params: object) -> str:
    """Render message `key` in the configured language."""
    return catalogue()(key, **params)
