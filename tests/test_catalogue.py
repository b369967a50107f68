"""The zh and en catalogues carry the same messages with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

import responder
from responder.i18n import Catalogue


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_catalogues_match() -> None:
    zh, en = Catalogue("zh"), Catalogue("en")
    assert zh.messages.keys() == en.messages.keys()
    for key, template in zh.messages.items():
        assert placeholders(template) == placeholders(en.messages[key]), key


def test_every_message_is_named_in_full_where_it_is_used() -> None:
    """No key is built from pieces ("role_" + role, or 'role_' ~ role in a console template):
    searching for a key finds its uses, in the code or in the web console's templates."""
    package = Path(responder.__file__).parent
    code = "\n".join(p.read_text(encoding="utf-8") for p in package.rglob("*.py"))
    templates = "\n".join(p.read_text(encoding="utf-8") for p in package.rglob("*.html"))
    both = code + "\n" + templates
    unused = [key for key in Catalogue("zh").messages if f'"{key}"' not in both and f"'{key}'" not in both]
    assert unused == []
    built = re.findall(r"""\b(?:t|cat)\(\s*(?:f["']|["'][^"']*["']\s*\+)""", code)
    assert built == []
    assert re.findall(r"""\bt\(\s*["'][^"']*["']\s*~""", templates) == []


def test_a_playbook_has_one_name_in_chinese() -> None:
    """Staff read 应对预案 on start-up, in check-config and on reload alike, never 应对流程."""
    zh = Catalogue("zh").messages
    assert [key for key, text in zh.items() if "流程" in text] == []
    assert all("应对预案" in zh[key] for key in ("log_running", "reload_done", "check_playbooks"))
