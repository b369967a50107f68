"""64-bit SimHash fingerprints of report text and an index that finds near-duplicates fast.

Fingerprints are SimHashes over character 3-grams of the text with punctuation and
spaces removed and every digit run replaced by "0" (a toll update stays a
near-duplicate). The banded index (pigeonhole) finds every fingerprint within
distance d without comparing with all of them: 64 bits cut into B bands; two
fingerprints within d agree on some band up to floor(d/B) bits, so each band's table is
probed with every flip of at most that many bits.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re

__all__ = ["BandIndex", "fingerprint", "hamming"]

MASK64 = (1 << 64) - 1
_SHINGLE = 3


_NOT_CONTENT = re.compile(r"[\s\W_]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")


def _features(text: str) -> set[str]:
    s = _DIGITS.sub("0", _NOT_CONTENT.sub("", text))
    if len(s) <= _SHINGLE:
        return {s} if s else set()
    return {s[i : i + _SHINGLE] for i in range(len(s) - _SHINGLE + 1)}


def _hash64(feature: str) -> int:
    # blake2b, not hash(): the same text must give the same fingerprint in every process
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")


def fingerprint(text: str) -> int:
    """64-bit SimHash of normalised `text`, as a signed int (for a BIGINT column).

    Stable across processes and machines; 0 for a text without letters or digits.
    """
    feats = _features(text)
    if not feats:
        return 0
    # Bit columns counted in C: each hash as 64 binary digits, most significant first.
    rows = [format(_hash64(f), "064b") for f in feats]
    half = len(rows) / 2
    value = 0
    for column in zip(*rows, strict=True):
        value = (value << 1) | (column.count("1") > half)
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two fingerprints (signed or unsigned)."""
    return ((a ^ b) & MASK64).bit_count()


class BandIndex:
    """Exact search of 64-bit fingerprints within Hamming distance d (pigeonhole bands)."""

    def __init__(self, distance: int, expected: int = 10_000) -> None:
        self.distance = distance
        self.bands, self.radius = self._plan(distance, expected)
        widths = [64 // self.bands + (1 if i < 64 % self.bands else 0) for i in range(self.bands)]
        self._spans: list[tuple[int, int]] = []
        shift = 0
        for w in widths:
            self._spans.append((shift, (1 << w) - 1))
            shift += w
        self._flips: list[list[int]] = [
            [
                sum(1 << b for b in bits)
                for r in range(self.radius + 1)
                for bits in itertools.combinations(range(w), r)
            ]
            for w in widths
        ]
        self._tables: list[dict[int, set[tuple[int, int]]]] = [{} for _ in widths]

    @staticmethod
    def _plan(distance: int, expected: int) -> tuple[int, int]:
        best: tuple[float, int, int] | None = None
        for bands in range(1, min(distance + 1, 64) + 1):
            radius = distance // bands
            cost = 0.0
            for i in range(bands):
                w = 64 // bands + (1 if i < 64 % bands else 0)
                probes = sum(math.comb(w, r) for r in range(radius + 1))
                cost += probes * (1 + expected / 2**w)
            if best is None or cost < best[0]:
                best = (cost, bands, radius)
        assert best is not None
        if best[0] >= expected:  # no index beats a scan (a very loose distance): scan
            return 0, 0
        return best[1], best[2]

    def add(self, fp: int, key: int) -> None:
        for (shift, mask), table in zip(self._spans, self._tables, strict=True):
            table.setdefault((fp >> shift) & mask, set()).add((fp, key))

    def discard(self, fp: int, key: int) -> None:
        for (shift, mask), table in zip(self._spans, self._tables, strict=True):
            band = (fp >> shift) & mask
            bucket = table.get(band)
            if bucket is not None:
                bucket.discard((fp, key))
                if not bucket:
                    del table[band]

    def near(self, fp: int) -> dict[int, int]:
        """key -> smallest distance, for every entry within the distance (bands > 0)."""
        found: dict[int, int] = {}
        d = self.distance
        for (shift, mask), table, flips in zip(self._spans, self._tables, self._flips, strict=True):
            band = (fp >> shift) & mask
            get = table.get
            # An entry found through several bands is simply measured again: cheaper
            # than remembering which were seen.
            for bucket in [b for flip in flips if (b := get(band ^ flip))]:
                for other, key in bucket:
                    dist = (fp ^ other).bit_count()
                    if dist <= d and dist < found.get(key, 65):
                        found[key] = dist
        return found
