"""Field names a query refers to, and a warning when no stored entry has one (a typo).

``query_logs({"levle": "ERROR"})`` and ``nosuchfield:1`` are valid queries that match nothing.
:func:`unknown_fields` finds the names in a compiled tree that are neither an entry attribute,
a filter key, an indexed field nor a metadata key of a stored entry, with the closest known
names (:mod:`difflib`); the engine calls it under its lock and :func:`warn_unknown_fields`
after releasing it. The metadata keys are collected lazily by
:meth:`~log_analytics_engine.index.store.Store.metadata_keys` only when a name is not
otherwise known, so neither ingestion nor queries on known names pay for it.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterator

from ..errors import UnknownFieldWarning
from ..model.entry import ATTRIBUTES
from .filters import FILTER_KEYS
from .nodes import (
    And,
    Compare,
    FieldEquals,
    IndexTerm,
    MatchAll,
    Node,
    Not,
    Or,
    QueryContext,
    TimeRange,
)

__all__ = ["field_names", "unknown_fields", "warn_unknown_fields"]

#: Nodes that name no entry field.
_NO_FIELDS = frozenset((IndexTerm, MatchAll, TimeRange))

_ALWAYS_KNOWN = ATTRIBUTES | FILTER_KEYS | {"ts", "after", "before"}


def field_names(node: Node) -> Iterator[str]:
    """The entry fields ``node`` compares (``FieldEquals`` and ``Compare``), in tree order."""
    if isinstance(node, (FieldEquals, Compare)):
        yield node.field
    elif isinstance(node, (And, Or)):
        for child in node.children:
            yield from field_names(child)
    elif isinstance(node, Not):
        yield from field_names(node.child)


def unknown_fields(node: Node, ctx: QueryContext) -> list[UnknownFieldWarning]:
    """A warning for each field of ``node`` that no stored entry has had, with the closest
    known names. Call under the engine lock. O(size of the tree), plus
    :meth:`Store.metadata_keys` when a name is not an attribute, filter key or indexed field.
    """
    out: list[UnknownFieldWarning] = []
    if type(node) in _NO_FIELDS:  # the common single-term query
        return out
    for name in dict.fromkeys(field_names(node)):
        if name in _ALWAYS_KNOWN or name in ctx.indexes.fields:
            continue
        seen = ctx.store.metadata_keys()
        if name in seen:
            continue
        known = sorted(_ALWAYS_KNOWN | seen | set(ctx.indexes.fields))
        out.append(UnknownFieldWarning(name, difflib.get_close_matches(name, known, n=3)))
    return out


def warn_unknown_fields(found: list[UnknownFieldWarning], stacklevel: int = 3) -> None:
    """``warnings.warn`` each of ``found`` (outside the engine lock: a warnings filter set to
    "error" raises here, in the caller's thread)."""
    for warning in found:
        warnings.warn(warning, stacklevel=stacklevel)
