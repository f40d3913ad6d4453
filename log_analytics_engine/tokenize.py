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

__all__ = ["tokenize", "tokenize_many", "words"]

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
