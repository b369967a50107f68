"""Well-known enterprises as place names: 马钢 is in 马鞍山, 淮北矿业 in Anhui.

The data file `enterprises.yaml` beside this module lists, for each enterprise, the names
reports use and the division its works are in, with the public pages that say so. The
gazetteer reads them as names of that division (a report naming only the enterprise is
placed there; a place named in the same sentence wins). A scheme in feeds.yaml can add
its own (`Scheme.enterprises`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..configfile import load_yaml

__all__ = ["DATA_FILE", "Enterprise", "builtin_enterprises"]

DATA_FILE = "enterprises.yaml"


@dataclass(frozen=True, slots=True)
class Enterprise:
    """One enterprise: the names reports use, the division it is in (`where`, as written), why."""

    names: tuple[str, ...]
    where: str
    what: str
    source: str


def _entry(index: int, raw: Any) -> Enterprise:
    where = f"{DATA_FILE}, entry {index + 1}"
    if not isinstance(raw, dict):
        raise RuntimeError(f"{where}: not a mapping")
    names = raw.get("names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise RuntimeError(f"{where}: `names` must be a list of names")
    for key in ("in", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise RuntimeError(f"{where}: `{key}` is missing")
    unknown = set(raw) - {"names", "in", "what", "source"}
    if unknown:
        raise RuntimeError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    return Enterprise(
        tuple(n.strip() for n in names), raw["in"].strip(), str(raw.get("what", "")), raw["source"]
    )


@cache
def builtin_enterprises() -> tuple[Enterprise, ...]:
    """The enterprises of the shipped data file, read once per process (a key written twice in an
    entry is refused, as in feeds.yaml)."""
    data, _lines = load_yaml(Path(__file__).with_name(DATA_FILE))
    if not isinstance(data, list):
        raise RuntimeError(f"{DATA_FILE}: a list of entries expected")
    return tuple(_entry(i, raw) for i, raw in enumerate(data))
