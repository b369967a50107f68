"""The zh and en catalogues carry the same messages with the same placeholders."""

from __future__ import annotations

import string

from responder.i18n import Catalogue


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_catalogues_match() -> None:
    zh, en = Catalogue("zh"), Catalogue("en")
    assert zh.messages.keys() == en.messages.keys()
    for key, template in zh.messages.items():
        assert placeholders(template) == placeholders(en.messages[key]), key
