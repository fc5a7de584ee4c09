"""Winnowed k-gram fingerprints of a token stream (Schleimer, Wilkerson and Aiken, 2003:
the method behind MOSS).

Every run of ``k`` consecutive tokens is hashed; in each window of ``w`` consecutive
hashes the smallest is kept. Any fragment of at least ``w + k - 1`` tokens shared by two
streams is then guaranteed to yield a shared fingerprint, while a stream keeps only about
2/(w+1) of its hashes. Hashes are computed from the token texts alone (blake2b, not
Python's per-process ``hash``), so a file's fingerprints are the same on every run and do
not depend on the rest of the class.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from propgrade.similarity.tokens import Token

MASK = (1 << 64) - 1
BASE = 0x100000001B3  # an odd multiplier for the polynomial combination of token hashes


@dataclass(frozen=True)
class Params:
    k: int = 10  # tokens per k-gram
    w: int = 4  # winnowing window (in k-grams)

    @property
    def guarantee(self) -> int:
        """Shared fragments at least this many tokens long are always found."""
        return self.w + self.k - 1


@lru_cache(maxsize=65536)
def _token_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def kgram_hashes(tokens: Sequence[Token], k: int) -> list[int]:
    """The hash of every k-gram, in order (none for a stream shorter than ``k``): the
    polynomial hash of its token hashes, rolled along the stream."""
    values = [_token_hash(t.text) for t in tokens]
    if len(values) < k:
        return []
    top = pow(BASE, k - 1, 1 << 64)
    h = 0
    for v in values[:k]:
        h = (h * BASE + v) & MASK
    out = [h]
    for i in range(k, len(values)):
        h = ((h - values[i - k] * top) * BASE + values[i]) & MASK
        out.append(h)
    return out


def winnow(hashes: Sequence[int], w: int) -> dict[int, list[int]]:
    """Fingerprint -> the k-gram positions where it was selected (robust winnowing: the
    rightmost minimum of each window, each selection recorded once)."""
    chosen: dict[int, list[int]] = {}
    if not hashes:
        return chosen
    width = min(w, len(hashes))  # a stream shorter than one window still gets its minimum
    last = -1
    for start in range(len(hashes) - width + 1):
        window = hashes[start : start + width]
        smallest = min(window)
        best = start + width - 1 - window[::-1].index(smallest)
        if best != last:
            chosen.setdefault(smallest, []).append(best)
            last = best
    return chosen


def fingerprints(tokens: Sequence[Token], params: Params) -> dict[int, list[int]]:
    return winnow(kgram_hashes(tokens, params.k), params.w)
