"""What a word is: the one place where indexing and querying agree.

A word is a maximal run of Unicode letters, digits and underscores (the regular expression
``\\w+``), compared case-folded (``str.casefold``, Unicode case-insensitive: "STRASSE"
finds "Straße"). Three equivalent paths compute it, fastest first:

1. a message whose whitespace-separated parts are all alphanumeric: ``casefold().split()``
   (``str.isalnum`` accepts exactly the characters ``\\w`` accepts, except ``_``, which then
   takes the next path);
2. an ASCII message: one ``str.translate`` that maps non-word characters to spaces, then
   ``split()``;
3. anything else: ``re.findall(r"\\w+")``.

Property tests check that all three agree with the regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["TokenCache", "tokenize", "tokenize_many", "words"]

_WORD = re.compile(r"\w+")
_findall = _WORD.findall
_ASCII_WORDS = str.maketrans(
    {c: (chr(c) if chr(c).isalnum() or chr(c) == "_" else " ") for c in range(128)}
)


def words(text: str) -> list[str]:
    """The words of ``text`` in order, case-folded, duplicates kept.

    >>> words("Connection refused: db-01")
    ['connection', 'refused', 'db', '01']
    """
    low = text.casefold()
    parts = low.split()
    if "".join(parts).isalnum():
        return parts
    if low.isascii():
        return low.translate(_ASCII_WORDS).split()
    return _findall(low)


def tokenize(text: str) -> frozenset[str]:
    """The distinct words of ``text``, case-folded (what the keyword index stores).

    >>> sorted(tokenize("Timeout timeout TIMEOUT after 30s"))
    ['30s', 'after', 'timeout']
    """
    return frozenset(words(text))


def tokenize_many(texts: Iterable[str]) -> list[list[str]]:
    """The words of each text, case-folded, duplicates kept (the batch indexing path).

    >>> tokenize_many(["a b a", "C-3PO_x"])
    [['a', 'b', 'a'], ['c', '3po_x']]
    """
    out: list[list[str]] = []
    append = out.append
    translate_table = _ASCII_WORDS
    for text in texts:
        low = text.casefold()
        parts = low.split()
        if "".join(parts).isalnum():
            append(parts)
        elif low.isascii():
            append(low.translate(translate_table).split())
        else:
            append(_findall(low))
    return out


class TokenCache:
    """Remembers the words of recently seen messages (logs repeat their messages).

    Bounded: cleared when it holds ``max_size`` messages. Adaptive: when fewer than one
    message in ``1 / min_hit_rate`` of a batch was seen before, the next batch skips the
    cache, so unique messages cost one failed lookup per batch sample, not an insert each.

    >>> cache = TokenCache()
    >>> cache.tokenize_many(["GET /health 200", "GET /health 200"])
    [['get', 'health', '200'], ['get', 'health', '200']]
    """

    __slots__ = ("_cache", "_enabled", "max_size", "min_hit_rate")

    def __init__(self, max_size: int = 16_384, min_hit_rate: float = 0.2) -> None:
        self._cache: dict[str, list[str]] = {}
        self._enabled = True
        self.max_size = max_size
        self.min_hit_rate = min_hit_rate

    def tokenize_many(self, texts: list[str]) -> list[list[str]]:
        """Like :func:`tokenize_many`; the returned lists are shared: do not mutate them."""
        if not self._enabled:
            # probe a small sample to notice when messages start repeating again
            sample = texts[:64]
            cache = self._cache
            hits = sum(1 for t in sample if t in cache)
            if sample and hits >= self.min_hit_rate * len(sample):
                self._enabled = True
            else:
                if len(cache) + len(sample) > self.max_size:
                    cache.clear()
                cache.update(zip(sample, tokenize_many(sample), strict=True))
                return tokenize_many(texts)
        cache = self._cache
        if len(cache) + len(texts) > self.max_size:
            cache.clear()
        get = cache.get
        out: list[list[str]] = []
        append = out.append
        misses = 0
        for text in texts:
            toks = get(text)
            if toks is None:
                misses += 1
                toks = cache[text] = words(text)
            append(toks)
        if texts and (len(texts) - misses) < self.min_hit_rate * len(texts):
            self._enabled = False
        return out
