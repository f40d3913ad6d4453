"""What a word is: the one place where indexing and querying agree.

A word is a maximal run of Unicode letters, digits and underscores, compared case-folded
(``str.casefold``: Unicode case-insensitive, so "STRASSE" finds "Straße").
"""

from __future__ import annotations

import re

__all__ = ["tokenize", "words"]

_WORD = re.compile(r"\w+")
_findall = _WORD.findall


def words(text: str) -> list[str]:
    """The words of ``text`` in order, lower-case (used for phrases).

    >>> words("Connection refused: db-01")
    ['connection', 'refused', 'db', '01']
    """
    return _findall(text.casefold())


def tokenize(text: str) -> frozenset[str]:
    """The distinct words of ``text``, lower-case (what the keyword index stores).

    >>> sorted(tokenize("Timeout timeout TIMEOUT after 30s"))
    ['30s', 'after', 'timeout']
    """
    return frozenset(_findall(text.casefold()))
