"""The message catalogue: every user-facing sentence comes from locales/<lang>.yaml.

Simplified Chinese (`zh`) is the default; `en` sits beside it with the same keys.
A test checks that both catalogues have exactly the same keys and placeholders.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import yaml

__all__ = ["Catalogue", "catalogue", "t"]

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


@cache
def catalogue(lang: str | None = None) -> Catalogue:
    """The catalogue for `lang`, else RESPONDER_LANG, else zh."""
    return Catalogue(lang or os.environ.get("RESPONDER_LANG", "zh"))


def t(key: str, /, **params: object) -> str:
    """Render message `key` in the configured language."""
    return catalogue()(key, **params)
