"""The query tree as SQL over the archive's columns: one compiler, a small dialect table.

:func:`compile_sql` turns a :class:`~.nodes.Node` into a ``WHERE`` predicate over the columns
of :mod:`log_analytics_engine.storage.archive_format` (``instant``, ``level``, ``source``,
``tags``, ``words``, ``metadata`` ...) with bound parameters, for DuckDB or Spark SQL
(:data:`DIALECTS`: the only difference is how a parameter and a list membership are spelled).

Exactness by construction: every node either compiles to a predicate that means exactly what
:meth:`Node.match` means (``exact``), or to a *superset* of it (a regex, a metadata equality
as a substring test of the metadata JSON, a numeric comparison): then the executor checks the
rows that pass with ``node.match`` on the decoded entries, as the engine's residual plans do.
SQL's NULL is never let through: every leaf is wrapped so that it is true or false, which keeps
``NOT`` exact.

:func:`may_match` decides, from a segment's term index alone, whether any row of the segment
can match (segment pruning), and :func:`time_span` gives the instants a tree can match
(partition pruning).

>>> c = compile_sql({"level": "ERROR", "keyword": "timeout"})
>>> c.sql, c.params, c.exact
('((level = $p0) AND list_contains(words, $p1))', {'p0': 'ERROR', 'p1': 'timeout'}, True)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from ..model.entry import ATTRIBUTES
from .compile import Filters, compile
from .nodes import (
    And,
    Compare,
    FieldEquals,
    IndexTerm,
    MatchAll,
    Node,
    Not,
    Or,
    Phrase,
    SourceTree,
    TimeRange,
)

__all__ = ["DIALECTS", "Dialect", "SqlPredicate", "compile_sql", "may_match", "text_value",
           "time_span"]


@dataclass(frozen=True)
class Dialect:
    """How one SQL engine spells the few things that differ.

    ``bucket``: the start of an instant's time bucket, formatted with the width in seconds
    (the engine's ``floor(instant / width) * width`` in float64). ``json_value``: the JSON
    value at path ``{0}`` of the metadata; ``json_kind``: its type name, formatted with that
    value, tested by ``float_kind`` and ``int_kind`` (formatted with the type name);
    ``float_list``/``text_list``: an aggregate of a value (``{0}``) as DOUBLE / as its JSON
    text (the value at path ``{2}`` of the metadata), in id order, of the rows where ``{1}``
    holds. ``distinct_tags``: a generator of the distinct tags of a row.
    """

    name: str
    param: str  # format with the parameter's name
    list_contains: str  # format with the list column and the value expression
    bucket: str = "floor(instant / {0}) * {0}"
    json_value: str = "json_extract(metadata, {0})"
    json_kind: str = "json_type({0})"
    float_kind: str = "{0} = 'DOUBLE'"
    int_kind: str = "{0} IN ('BIGINT', 'UBIGINT', 'HUGEINT')"
    float_list: str = "list(TRY_CAST({0} AS DOUBLE) ORDER BY id) FILTER (WHERE {1})"
    text_list: str = "list(CAST({0} AS VARCHAR) ORDER BY id) FILTER (WHERE {1})"
    distinct_tags: str = "unnest(list_distinct(tags))"
    #: The JSON text value at path ``{0}`` of the metadata as text (when it is a string);
    #: ``str_kind``/``null_kind``/``bool_kind``: the tests of ``json_kind`` for a string, a
    #: JSON null and a boolean; ``json_double``/``json_int``: the value at ``{0}`` as a DOUBLE
    #: (a float kind) and as an integer (an int kind), exactly.
    json_text: str = "json_extract_string(metadata, {0})"
    str_kind: str = "{0} = 'VARCHAR'"
    null_kind: str = "{0} = 'NULL'"
    bool_kind: str = "{0} = 'BOOLEAN'"
    json_double: str = "TRY_CAST(json_extract(metadata, {0}) AS DOUBLE)"
    json_int: str = "TRY_CAST(json_extract(metadata, {0}) AS HUGEINT)"
    #: Where ``json_value`` loses the sign of a zero fraction (Spark's VARIANT reads -0.0 as
    #: the decimal 0): a test, formatted with the path, that the value's JSON text starts
    #: with a minus sign (such a group takes the exact path). Empty: the value keeps it.
    minus_text: str = ""

    def contains(self, column: str, value: str) -> str:
        return self.list_contains.format(column, value)


#: Spark SQL: ``60.0`` is a DECIMAL literal there, so widths are cast to DOUBLE; metadata
#: values are read through the VARIANT type (pyspark >= 4.0), where a JSON integer is BIGINT
#: and a JSON fraction DECIMAL(p,s) or DOUBLE; lists keep id order by sorting (id, value)
#: pairs. Casts are the ``try_`` forms although a type test guards each: Spark may compute
#: an aggregate's input before its ``FILTER`` (a string under ``CAST(... AS DOUBLE)`` failed
#: the query), and it does not promise to test a conjunction left to right.
DIALECTS: dict[str, Dialect] = {
    "duckdb": Dialect("duckdb", "${}", "list_contains({}, {})"),
    "spark": Dialect(
        "spark", ":{}", "array_contains({}, {})",
        bucket="CAST(floor(instant / CAST({0} AS DOUBLE)) AS DOUBLE) * CAST({0} AS DOUBLE)",
        json_value="variant_get(try_parse_json(metadata), {0})",
        json_kind="schema_of_variant({0})",
        float_kind="({0} = 'DOUBLE' OR {0} LIKE 'DECIMAL%')",
        int_kind="{0} = 'BIGINT'",
        float_list=("transform(array_sort(collect_list(named_struct('i', id, 'v', "
                    "TRY_CAST({0} AS DOUBLE))) FILTER (WHERE {1})), x -> x.v)"),
        # the number's own JSON text: to_json of a VARIANT writes 0.0 as 0 and -0.0 as 0
        text_list=("transform(array_sort(collect_list(named_struct('i', id, 'v', "
                   "get_json_object(metadata, {2}))) FILTER (WHERE {1})), x -> x.v)"),
        distinct_tags="explode(array_distinct(tags))",
        json_text="variant_get(try_parse_json(metadata), {0}, 'string')",
        str_kind="{0} = 'STRING'",
        null_kind="{0} = 'VOID'",
        json_double="try_variant_get(try_parse_json(metadata), {0}, 'double')",
        json_int="try_variant_get(try_parse_json(metadata), {0}, 'bigint')",
        minus_text="startswith(ltrim(get_json_object(metadata, {0})), '-')"),
}

#: The integer an int compares with for each operator: ``n >= x`` iff ``n >= ceil(x)``,
#: ``n > x`` iff ``n > floor(x)``, ``n <= x`` iff ``n <= floor(x)``, ``n < x`` iff
#: ``n < ceil(x)``.
_INT_BOUND = {">=": math.ceil, ">": math.floor, "<=": math.floor, "<": math.ceil}
_COLUMN_OF_INDEX = {"level": "level", "source": "source"}
_LIST_OF_INDEX = {"tag": "tags", "token": "words"}
_OPTIONAL = frozenset(("thread_id", "request_id", "user_id"))
_PLAIN_KEY = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass
class SqlPredicate:
    """A compiled predicate: ``sql`` with named ``params``; ``exact`` when it means exactly
    the node (otherwise a superset: check the rows with ``node.match``)."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    exact: bool = True


class _Builder:
    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect
        self.params: dict[str, Any] = {}

    def p(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return self.d.param.format(name)

    def meta_has(self, key: str, value: Any = None) -> str:
        """A superset test: the metadata JSON holds ``"key":`` (and the value's JSON text
        right after it when the value is a string, which the one codec writes one way)."""
        needle = orjson.dumps(key).decode() + ":"
        if isinstance(value, str):
            needle += orjson.dumps(value).decode()
        return f"COALESCE(instr(metadata, {self.p(needle)}) > 0, FALSE)"

    def build(self, node: Node) -> tuple[str, bool]:
        if isinstance(node, MatchAll):
            return "TRUE", True
        if isinstance(node, IndexTerm):
            if not isinstance(node.term, str):
                return "FALSE", True  # the indexes hold text only
            column = _COLUMN_OF_INDEX.get(node.index)
            if column is not None:
                return f"({column} = {self.p(node.term)})", True
            return self.d.contains(_LIST_OF_INDEX[node.index], self.p(node.term)), True
        if isinstance(node, SourceTree):
            return (f"(source = {self.p(node.name)} OR "
                    f"instr(source, {self.p(node.name + '.')}) = 1)"), True
        if isinstance(node, TimeRange):
            parts = []
            if node.lo != -math.inf:
                parts.append(f"instant >= {self.p(float(node.lo))}")
            if node.hi != math.inf:
                parts.append(f"instant <= {self.p(float(node.hi))}")
            if math.isnan(node.lo) or math.isnan(node.hi):
                return "FALSE", True
            return ("(" + " AND ".join(parts) + ")") if parts else "TRUE", True
        if isinstance(node, FieldEquals):
            return self._equals(node.field, node.value)
        if isinstance(node, Phrase):
            parts = [self.d.contains("words", self.p(w)) for w in dict.fromkeys(node.words)]
            if not parts:
                return "TRUE", False
            return "(" + " AND ".join(parts) + ")", len(node.words) == 1
        if isinstance(node, Compare):
            compared = self._compare(node)
            if compared is not None:
                return compared, True
            if node.field in ATTRIBUTES and node.field not in _OPTIONAL:
                return "TRUE", False
            return self.meta_has(node.field), False
        if isinstance(node, (And, Or)):
            if not node.children:
                return ("TRUE" if isinstance(node, And) else "FALSE"), True
            built = [self.build(c) for c in node.children]
            joiner = " AND " if isinstance(node, And) else " OR "
            return "(" + joiner.join(s for s, _ in built) + ")", all(e for _, e in built)
        if isinstance(node, Not):
            mark = len(self.params)
            inner, exact = self.build(node.child)
            if not exact:
                for name in list(self.params)[mark:]:
                    del self.params[name]
                return "TRUE", False  # NOT of a superset is no superset: check every row
            return f"(NOT {inner})", True
        return "TRUE", False  # a regex, or a node this compiler does not know: check rows

    def _equals(self, name: str, value: Any) -> tuple[str, bool]:
        if value is None and name not in ("level", "message", "timestamp", "tags"):
            # Equality with None holds where the field is missing: the key need not be there.
            if name == "source":
                return "(source = '')", False
            return (f"({name} IS NULL)" if name in _OPTIONAL else "TRUE"), False
        if name in ("level", "message"):
            if not isinstance(value, str):
                return "FALSE", True
            return f"({name} = {self.p(value)})", True
        if name == "timestamp":
            if isinstance(value, str):
                return f"COALESCE(timestamp = {self.p(value)}, FALSE)", True
            return "TRUE", False
        if name == "tags" or value is None:  # None also matches a missing key
            return "TRUE", False
        if name == "source":  # an empty source falls back to the metadata key
            if not isinstance(value, str):
                return f"(source = '' AND {self.meta_has(name)})", False
            fallback = f"(source = '' AND {self.meta_has(name, value)})"
            return f"(source = {self.p(value)} OR {fallback})", False
        if name in _OPTIONAL:  # None falls back to the metadata key
            fallback = f"({name} IS NULL AND {self.meta_has(name, value)})"
            if isinstance(value, str):
                return f"(COALESCE({name} = {self.p(value)}, FALSE) OR {fallback})", False
            return fallback, False
        exact = self._meta_equals(name, value)
        if exact is not None:
            return exact, True
        return self.meta_has(name, value), False

    def _compare(self, node: Compare) -> str | None:
        """Exact SQL for a numeric comparison of a plain metadata key with a finite threshold
        of at most 2**53 in magnitude (every such number is a double), or None. A JSON float
        compares as a double, exactly as Python compares it; a JSON integer compares as an
        integer with the threshold rounded the way the operator needs (``n >= 2.5`` is
        ``n >= 3``), so a 64-bit integer is never rounded to a double; anything else (text,
        a bool, null, missing) never matches, as :meth:`Compare.match` says."""
        value = node.value
        if (node.field in ATTRIBUTES or not _PLAIN_KEY.match(node.field)
                or isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or abs(value) > 2**53
                or node.op not in _INT_BOUND):
            return None
        d = self.d
        path = f"'$.{node.field}'"
        kind = d.json_kind.format(d.json_value.format(path))
        bound = _INT_BOUND[node.op](value)
        as_float = f"({d.float_kind.format(kind)} AND {d.json_double.format(path)} {node.op} " \
                   f"{float(value)!r})"
        as_int = f"({d.int_kind.format(kind)} AND {d.json_int.format(path)} {node.op} {bound})"
        return f"COALESCE({as_float} OR {as_int}, FALSE)"

    def _meta_equals(self, name: str, value: Any) -> str | None:
        """Exact SQL for ``same_value(metadata.get(name), value)`` with a text or bool
        ``value`` and a plain key name (a bool equals only a JSON boolean: filters do not take
        ``True`` for ``1``), or None: other values keep the superset test and the residual
        check."""
        if not _PLAIN_KEY.match(name) or not isinstance(value, (str, bool)):
            return None
        d = self.d
        path = f"'$.{name}'"
        kind = d.json_kind.format(d.json_value.format(path))
        text = d.json_text.format(path)
        if isinstance(value, str):
            return f"COALESCE({d.str_kind.format(kind)} AND {text} = {self.p(value)}, FALSE)"
        truth = "true" if value else "false"
        return f"COALESCE({d.bool_kind.format(kind)} AND {text} = '{truth}', FALSE)"


def text_value(d: Dialect, name: str) -> tuple[str, str] | None:
    """``(value, other)`` SQL for field ``name`` resolved as :meth:`LogEntry.get` does:
    ``value`` is its text (NULL when missing or not text), ``other`` holds where it is
    present but not text (a number, a list...). ``None`` for a field SQL does not resolve
    this way (``timestamp``, ``tags``, a metadata key that is not a plain name)."""
    if name in ("level", "message"):
        return name, "FALSE"
    if name in ATTRIBUTES and name not in _OPTIONAL and name != "source":
        return None
    if not _PLAIN_KEY.match(name):
        return None
    path = f"'$.{name}'"
    kind = d.json_kind.format(d.json_value.format(path))
    is_text = d.str_kind.format(kind)
    meta = f"(CASE WHEN {is_text} THEN {d.json_text.format(path)} END)"
    other = f"COALESCE(NOT ({is_text}) AND NOT ({d.null_kind.format(kind)}), FALSE)"
    if name == "source":  # an empty source falls back to the metadata key
        return f"(CASE WHEN source <> '' THEN source ELSE {meta} END)", f"(source = '' AND {other})"
    if name in _OPTIONAL:  # a missing id falls back to the metadata key
        return f"COALESCE({name}, {meta})", f"({name} IS NULL AND {other})"
    return meta, other


def compile_sql(node: Filters, dialect: str | Dialect = "duckdb") -> SqlPredicate:
    """The ``WHERE`` predicate of a query tree (a node, a filter dict or a query string) in
    ``dialect``. Runtime complexity: O(size of the tree).
    """
    node = compile(node)
    d = DIALECTS[dialect] if isinstance(dialect, str) else dialect
    b = _Builder(d)
    sql, exact = b.build(node)
    return SqlPredicate(sql, b.params, exact)


def time_span(node: Node) -> tuple[float, float]:
    """The instants ``[lo, hi]`` outside which ``node`` matches nothing (for pruning).

    >>> time_span(compile({"start_time": 10, "level": "INFO"}))
    (10.0, inf)
    """
    if isinstance(node, TimeRange):
        return node.lo, node.hi
    if isinstance(node, And):
        lo, hi = -math.inf, math.inf
        for c in node.children:
            clo, chi = time_span(c)
            lo, hi = max(lo, clo), min(hi, chi)
        return lo, hi
    if isinstance(node, Or) and node.children:
        spans = [time_span(c) for c in node.children]
        return min(s[0] for s in spans), max(s[1] for s in spans)
    return -math.inf, math.inf


class Segment(Protocol):
    """What pruning reads from a segment's term index."""

    @property
    def lo(self) -> float: ...

    @property
    def hi(self) -> float: ...

    def may_hold(self, index: str, term: Any) -> bool: ...


def may_match(node: Node, seg: Segment) -> bool:
    """``False`` only when no row of the segment can match ``node`` (its terms or its time
    span rule it out). O(size of the tree)."""
    if isinstance(node, IndexTerm):
        return seg.may_hold(node.index, node.term)
    if isinstance(node, Phrase):
        return all(seg.may_hold("token", w) for w in node.words)
    if isinstance(node, TimeRange):
        return node.lo <= seg.hi and seg.lo <= node.hi
    if isinstance(node, And):
        return all(may_match(c, seg) for c in node.children)
    if isinstance(node, Or):
        return any(may_match(c, seg) for c in node.children)
    return not (isinstance(node, Not) and isinstance(node.child, MatchAll))
