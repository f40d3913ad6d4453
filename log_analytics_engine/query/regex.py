"""Regular expressions from untrusted queries: a length cap and, when the ``re2`` extra is
installed, a linear-time engine.

Python's ``re`` backtracks: ``(a+)+$`` on 26 ``a``s takes seconds per message. RE2
(``google-re2``, the ``re2`` extra) matches in time linear in the message, so with it a regex
query costs at most a scan of the candidates; patterns RE2 cannot run in linear time
(backreferences, lookaround) are refused with a clear error. Without it ``re`` is used, and
a query is bounded only by its deadline, checked between entries (``docs/limits.md``).

Wherever a regex runs, it runs outside the engine lock (:mod:`.residual`), so a slow one
never delays ingestion.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from ..errors import InvalidFilterError

try:  # the linear-time engine, from the optional ``re2`` extra
    import re2 as _re2  # type: ignore[import-untyped,import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on the installed extras
    _re2 = None

__all__ = ["LINEAR_TIME", "MAX_REGEX_LENGTH", "Pattern", "compile_regex"]

#: The longest regular expression a filter may hold (characters).
MAX_REGEX_LENGTH = 1000
#: Whether regexes run on the linear-time engine (RE2) in this installation.
LINEAR_TIME = _re2 is not None
#: Memory RE2 may use for one compiled pattern (its default is 8 MiB).
_RE2_MAX_MEM = 8 << 20


class Pattern(Protocol):
    """What a compiled regex offers the query nodes (``re.Pattern`` or an RE2 pattern)."""

    @property
    def pattern(self) -> str: ...

    def search(self, text: str) -> Any: ...


def _re2_options() -> Any:
    assert _re2 is not None
    options = _re2.Options()
    options.log_errors = False  # a library never writes to stderr
    options.max_mem = _RE2_MAX_MEM
    options.never_capture = True  # filters only ask whether a message matches
    return options


class _Re2Search:
    """An RE2 pattern whose ``search`` only says whether the text matches: one call into
    RE2 per message (the binding's ``search`` builds a match object in Python and costs about
    5x more). Falls back to the binding's ``search`` if its internals differ."""

    __slots__ = ("_anchor", "_compiled", "_match", "_null", "pattern")

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled
        self.pattern: str = compiled.pattern
        regexp = getattr(compiled, "_regexp", None)
        self._match = getattr(regexp, "Match", None)
        self._anchor = getattr(getattr(_re2, "_Anchor", None), "UNANCHORED", None)
        self._null = getattr(_re2, "_NULL_SPAN", None)
        if self._match is None or self._anchor is None or self._null is None:
            self._match = None  # pragma: no cover - another version of the binding

    def __repr__(self) -> str:  # stable: query cursors checksum the repr of the tree
        return f"re2.compile({self.pattern!r})"

    def search(self, text: str) -> Any:
        if self._match is None:  # pragma: no cover
            return self._compiled.search(text)
        data = text.encode("utf-8", "surrogatepass")
        span = self._match(self._anchor, data, 0, len(data))[0]
        return None if span == self._null else span


def compile_regex(value: Any, key: str = "regex") -> Pattern:
    """Compile a filter's regular expression: at most :data:`MAX_REGEX_LENGTH` characters, on
    RE2 when installed (else ``re``). A compiled ``re.Pattern`` given by the caller is trusted
    and used as it is. O(len(pattern)).

    >>> compile_regex(r"db-\\d+$").search("refused: db-01") is not None
    True
    """
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise InvalidFilterError(key, value, "expected a regular expression string")
    if len(value) > MAX_REGEX_LENGTH:
        raise InvalidFilterError(key, value[:40] + "…",
                                 f"longer than {MAX_REGEX_LENGTH} characters")
    try:
        checked = re.compile(value)  # the syntax error messages users know
    except re.error as exc:
        raise InvalidFilterError(key, value, f"bad regular expression: {exc}") from exc
    if _re2 is None:
        return checked
    try:
        compiled = _re2.compile(value, _re2_options())
    except Exception as exc:  # re2.error: a construct without a linear-time match
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise InvalidFilterError(
            key, value, f"not supported by the linear-time regex engine (RE2): {reason}; "
            "backreferences and lookaround are not allowed") from None
    return _Re2Search(compiled)
