"""Compilation: a filter dict, a query string or a node becomes one query tree.

:func:`compile` is the one entry point the layers above use (queries, alert conditions,
processor ``when`` filters, sessions, the dashboard): :mod:`.filters` compiles dicts and
:mod:`.language` query strings, to the same nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .filters import compile_filters
from .language import parse_query
from .nodes import Node

__all__ = ["Filters", "compile"]

#: What every query method accepts: a filter dict, a query string, a node, or None (all).
Filters = Mapping[str, Any] | str | Node | None


def compile(filters: Filters) -> Node:
    """The query tree of a filter dict, a query string (see :mod:`.language`) or a node.

    Runtime complexity: O(size of the filters).

    >>> compile("level:ERROR") == compile({"level": "ERROR"})
    True
    """
    if type(filters) is not dict and isinstance(filters, str):
        return parse_query(filters)
    return compile_filters(filters)
