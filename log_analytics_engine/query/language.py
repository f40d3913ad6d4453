"""A Lucene/Kibana-like query language, compiled to the same tree as filter dicts.

>>> parse_query('level:ERROR source:api "connection refused"')  # doctest: +ELLIPSIS
And(children=(IndexTerm(index='level', term='ERROR'), IndexTerm(index='source', ...

Grammar (``AND`` binds tighter than ``OR``; juxtaposition is ``AND``)::

    query   := or_expr?
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary (["AND"] unary)*
    unary   := ("-" | "NOT") unary | primary
    primary := "(" or_expr ")" | '"phrase"' | field ":" value | field ":(" or_expr ")" | word
    value   := '"text"' | (">" | ">=" | "<" | "<=") number | text

Every field term ``f:v`` compiles through :func:`~log_analytics_engine.query.nodes.compile_filters`
as ``{f: v}``, so ``level:ERROR`` means exactly ``{"level": "ERROR"}``; ``tag:x`` is one tag,
``after:``/``before:`` are the inclusive ``start_time``/``end_time`` bounds, ``source:shop.*``
is the source ``shop`` and every source below it (``shop.api``; filter ``source_prefix``), an
unquoted
number on another field matches the number or its text (``status:500`` is
``{"status": [500, "500"]}``); in a group ``level:(ERROR OR WARN)`` every word or phrase is a
value of the field. A bare word is ``{"keyword": word}``, a quoted phrase is a
:class:`~log_analytics_engine.query.nodes.Phrase` (words in order), ``f:>250`` is a
:class:`~log_analytics_engine.query.nodes.Compare`. ``AND``, ``OR`` and ``NOT`` are operators
only in
upper case. Errors raise :class:`~log_analytics_engine.errors.QuerySyntaxError` with the
1-based column and what was expected there.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidFilterError, QuerySyntaxError
from ..model.timeparse import format_instant
from ..model.tokenize import words
from .filters import compile_filters
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
    Regex,
    SourceTree,
    TimeRange,
)

__all__ = ["parse_query", "query_text"]

#: Deeper nesting is a syntax error (the parser is recursive).
MAX_DEPTH = 64
_FIELD = re.compile(r"([A-Za-z_@][\w.@]*):")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATORS = frozenset(("AND", "OR", "NOT"))
_STOP = frozenset(' \t\r\n()"')
#: Field names that are query-language aliases of filter keys.
_ALIASES = {"after": "start_time", "before": "end_time", "tags": "tag"}
#: Filter keys whose values stay text even when they look like numbers.
_TEXT_KEYS = frozenset(
    ("start_time", "end_time", "level", "min_severity", "source", "tag", "tags_all",
     "keyword", "keywords", "regex", "message", "source_prefix")
)
_EXPECTED_VALUE = {
    "start_time": "a time (ISO 8601 or epoch seconds)",
    "end_time": "a time (ISO 8601 or epoch seconds)",
    "level": "a level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL)",
    "min_severity": "a level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL)",
    "regex": "a regular expression",
}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(" ")" "-" "AND" "OR" "NOT" "phrase" "word" "field" "group" "end"
    col: int  # 1-based column of the token's first character
    text: str = ""  # the source text (phrase contents without quotes)
    field: str = ""  # for "field": the field name
    value: str = ""  # for "field": the raw value (phrase contents when quoted)
    quoted: bool = False  # for "field": the value was quoted
    value_col: int = 0  # for "field": column of the value

    def describe(self) -> str:
        if self.kind == "end":
            return "end of query"
        if self.kind == "phrase":
            return f'"{self.text}"'
        return repr(self.text)


def _ends_term(c: str) -> bool:
    return c.isspace() or c == ")"


class _Lexer:
    def __init__(self, query: str) -> None:
        self.q = query
        self.i = 0

    def error(self, col: int, expected: str, found: str) -> QuerySyntaxError:
        return QuerySyntaxError(self.q, col, expected, found)

    def _quoted(self) -> tuple[str, int]:
        """Read ``"..."`` at ``self.i`` (backslash escapes); return the text and the end."""
        q, start = self.q, self.i
        out: list[str] = []
        j = start + 1
        while j < len(q):
            c = q[j]
            if c == "\\" and j + 1 < len(q):
                out.append(q[j + 1])
                j += 2
                continue
            if c == '"':
                return "".join(out), j + 1
            out.append(c)
            j += 1
        raise self.error(start + 1, "a closing '\"' for the quote opened here", "end of query")

    def _run(self, j: int) -> int:
        q = self.q
        while j < len(q) and q[j] not in _STOP:
            j += 1
        return j

    def tokens(self) -> list[_Token]:
        q = self.q
        out: list[_Token] = []
        while True:
            while self.i < len(q) and q[self.i].isspace():
                self.i += 1
            if self.i >= len(q):
                out.append(_Token("end", len(q) + 1))
                return out
            c, col = q[self.i], self.i + 1
            if c in "()":
                out.append(_Token(c, col, c))
                self.i += 1
            elif c == '"':
                text, self.i = self._quoted()
                out.append(_Token("phrase", col, text))
            elif c == "-":
                if self.i + 1 >= len(q) or _ends_term(q[self.i + 1]):
                    found = ("end of query" if self.i + 1 >= len(q)
                             else "a space" if q[self.i + 1].isspace() else repr(q[self.i + 1]))
                    raise self.error(col + 1, "a term right after '-'", found)
                out.append(_Token("-", col, "-"))
                self.i += 1
            else:
                out.append(self._word(col))

    def _word(self, col: int) -> _Token:
        q, start = self.q, self.i
        m = _FIELD.match(q, start)
        if m is None:
            end = self._run(start)
            text = q[start:end]
            self.i = end
            return _Token(text if text in _OPERATORS else "word", col, text)
        name = m.group(1)
        vstart = m.end()
        if vstart < len(q) and q[vstart] == "(":
            self.i = vstart  # the "(" is the next token
            return _Token("group", col, q[start:vstart], name, value_col=vstart + 1)
        if vstart < len(q) and q[vstart] == '"':
            self.i = vstart
            value, self.i = self._quoted()
            return _Token("field", col, q[start:self.i], name, value, True, vstart + 1)
        end = self._run(vstart)
        self.i = end
        if end == vstart:
            found = "end of query" if end >= len(q) else repr(q[end])
            raise self.error(vstart + 1, f"a value after '{name}:'", found)
        return _Token("field", col, q[start:end], name, q[vstart:end], False, vstart + 1)


class _Parser:
    def __init__(self, query: str) -> None:
        self.q = query
        self.lexer = _Lexer(query)
        self.toks = self.lexer.tokens()
        self.pos = 0
        self.field: str | None = None  # inside "field:( ... )": words are values of it
        self.depth = 0

    @property
    def peek(self) -> _Token:
        return self.toks[self.pos]

    def take(self) -> _Token:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def error(self, tok: _Token, expected: str) -> QuerySyntaxError:
        return QuerySyntaxError(self.q, tok.col, expected, tok.describe())

    def parse(self) -> Node:
        if self.peek.kind == "end":
            return MatchAll()
        node = self.or_expr()
        if self.peek.kind != "end":
            raise self.error(self.peek, "a term, AND, OR or the end of the query")
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.peek.kind == "OR":
            self.take()
            parts.append(self.and_expr())
        return _combine(parts, Or)

    def and_expr(self) -> Node:
        parts = [self.unary()]
        while True:
            kind = self.peek.kind
            if kind == "AND":
                self.take()
                parts.append(self.unary())
            elif kind in ("(", "-", "NOT", "phrase", "word", "field", "group"):
                parts.append(self.unary())
            else:
                return _combine(parts, And)

    def unary(self) -> Node:
        negations = 0
        while self.peek.kind in ("-", "NOT"):
            self.take()
            negations += 1
        node = self.primary()
        return Not(node) if negations % 2 else node  # NOT NOT a is a

    def _enter(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(tok, f"at most {MAX_DEPTH} nested parentheses")

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "group":
            return self._group(tok)
        if self.field is not None and tok.kind in ("word", "phrase"):
            return self._field(_Token("field", tok.col, tok.text, self.field, tok.text,
                                      tok.kind == "phrase", tok.col + (tok.kind == "phrase")))
        if tok.kind == "(":
            self._enter(tok)
            inner = self.or_expr()
            if self.peek.kind != ")":
                raise self.error(self.peek, "')' to close the '(' at column " + str(tok.col))
            self.take()
            self.depth -= 1
            return inner
        if tok.kind == "phrase":
            ws = tuple(words(tok.text))
            if not ws:
                raise QuerySyntaxError(self.q, tok.col, "a phrase with at least one word",
                                       tok.describe())
            return Phrase(ws)
        if tok.kind == "word":
            return self._compile("keyword", tok.text, tok.col, "a word to search for")
        if tok.kind == "field":
            return self._field(tok)
        raise self.error(tok, "a term (a word, a \"phrase\", field:value or '(')")

    def _group(self, tok: _Token) -> Node:
        """``field:( ... )``: the words and phrases inside are values of ``field``."""
        opening = self.take()  # the lexer put a "(" right after the field name
        self._enter(opening)
        outer, self.field = self.field, tok.field
        try:
            inner = self.or_expr()
        finally:
            self.field = outer
        if self.peek.kind != ")":
            raise self.error(self.peek, f"')' to close the '(' at column {opening.col}")
        self.take()
        self.depth -= 1
        return inner

    def _field(self, tok: _Token) -> Node:
        key = _ALIASES.get(tok.field, tok.field)
        raw = tok.value
        if not tok.quoted:
            for op in (">=", "<=", ">", "<"):
                if raw.startswith(op):
                    return self._compare(tok, op, raw[len(op):])
        value: Any = raw
        if key == "source" and not tok.quoted and raw.endswith(".*") and len(raw) > 2:
            key = "source_prefix"  # source:shop.* is shop and every source below it
        if not tok.quoted and key not in _TEXT_KEYS and _NUMBER.fullmatch(raw):
            number = float(raw)
            whole = number.is_integer() and "." not in raw and "e" not in raw.lower()
            value = [int(raw) if whole else number, raw]
        expected = _EXPECTED_VALUE.get(key, f"a value for '{tok.field}:'")
        return self._compile(key, value, tok.value_col, expected)

    def _compare(self, tok: _Token, op: str, text: str) -> Node:
        col = tok.value_col + len(op)
        if not _NUMBER.fullmatch(text) or not math.isfinite(float(text)):
            found = repr(text) if text else "end of value"
            raise QuerySyntaxError(self.q, col, f"a number after '{tok.field}:{op}'", found)
        return Compare(tok.field, op, float(text))

    def _compile(self, key: str, value: Any, col: int, expected: str) -> Node:
        try:
            return compile_filters({key: value})
        except InvalidFilterError as exc:
            shown = value[-1] if isinstance(value, list) else value
            found = repr(shown[:60] + "…" if isinstance(shown, str) and len(shown) > 60
                         else shown)
            raise QuerySyntaxError(self.q, col, f"{expected} ({exc.reason})", found) from exc


def _combine(parts: list[Node], kind: type[And] | type[Or]) -> Node:
    """Flatten nested nodes of the same kind; merge the time bounds of an ``And``."""
    flat: list[Node] = []
    for p in parts:
        if isinstance(p, kind):
            flat.extend(p.children)
        else:
            flat.append(p)
    if kind is And:
        bounds = [p for p in flat if isinstance(p, TimeRange)]
        if len(bounds) > 1:
            merged = TimeRange(max(b.lo for b in bounds), min(b.hi for b in bounds))
            flat = [p for p in flat if not isinstance(p, TimeRange)] + [merged]
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def parse_query(query: str) -> Node:
    """Compile a query string to a :class:`~log_analytics_engine.query.nodes.Node` tree.

    An empty query matches everything. Runtime complexity: O(len(query)).

    >>> parse_query("level:ERROR") == compile_filters({"level": "ERROR"})
    True
    >>> parse_query("latency_ms:>250 OR -tag:debug")  # doctest: +NORMALIZE_WHITESPACE
    Or(children=(Compare(field='latency_ms', op='>', value=250.0),
                 Not(child=IndexTerm(index='tag', term='debug'))))
    """
    if not isinstance(query, str):
        raise InvalidFilterError("q", query, "expected a query string")
    return _Parser(query).parse()


_PLAIN_VALUE = re.compile(r"[\w.@/+-]+")


def _value_text(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    if _PLAIN_VALUE.fullmatch(text) and text not in _OPERATORS:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _grouped(node: Node) -> str:
    text = query_text(node)
    return f"({text})" if isinstance(node, (And, Or)) and len(node.children) > 1 else text


def query_text(node: Node) -> str:
    """A readable query-language text of ``node`` (for displays such as the dashboard's
    processors table), e.g. ``level:ERROR source:api -tag:debug``. O(size of the tree).

    >>> query_text(compile_filters({"level": ["WARN", "ERROR"], "source": "db"}))
    '(level:WARN OR level:ERROR) source:db'
    """
    if isinstance(node, MatchAll):
        return "*"
    if isinstance(node, SourceTree):
        return f"source:{_value_text(node.name)}.*"
    if isinstance(node, IndexTerm):
        if node.index == "token":
            return _value_text(node.term)
        return f"{node.index}:{_value_text(node.term)}"
    if isinstance(node, FieldEquals):
        return f"{node.field}:{_value_text(node.value)}"
    if isinstance(node, Compare):
        return f"{node.field}:{node.op}{node.value:g}"
    if isinstance(node, Phrase):
        return '"' + " ".join(node.words) + '"'
    if isinstance(node, TimeRange):
        bounds = ([f"after:{format_instant(node.lo)}"] if math.isfinite(node.lo) else []) + (
            [f"before:{format_instant(node.hi)}"] if math.isfinite(node.hi) else [])
        return " ".join(bounds) or "*"
    if isinstance(node, Regex):
        return f"regex:{_value_text(node.pattern.pattern)}"
    if isinstance(node, Not):
        return "-" + _grouped(node.child)
    if isinstance(node, And):
        return " ".join(query_text(c) if isinstance(c, And) else _grouped(c)
                        for c in node.children)
    if isinstance(node, Or):
        return " OR ".join(_grouped(c) if isinstance(c, And) else query_text(c)
                           for c in node.children)
    return type(node).__name__
