"""Sessions over the archive in SQL: start/end pairing with window functions.

The engine pairs events in one pass in time order with a dict of open starts per key
(:func:`~log_analytics_engine.events.sessions.build_sessions`). Per key, that pass is exactly
a look at each event's neighbours in (instant, id) order among the key's start and end events:

* a start whose next event is an end is a complete session (the pair);
* a start whose next event is a start is incomplete (``restarted``), one with no next event
  too (``no end``);
* an end whose previous event is not a start is incomplete (``end without start``).

So the executor computes ``lead`` and ``lag`` over ``PARTITION BY key ORDER BY instant, id``
(DuckDB or Spark SQL, the same statement), and only the sessions come back: one row per
complete or incomplete session, with the start's user and feature values. The metrics are
then :func:`~log_analytics_engine.events.sessions.sessions_result`'s, as the engine computes
them. On Spark the pairing runs where the data is, partitioned by key.

SQL compares values by type, Python by equality (``1 == 1.0 == True``), so the SQL path is
taken when the key, user and feature values of the selected events are text (or missing):
one ``count`` checks it first. Anything else (a number as a key, a non-text start action, a
field that is not a column or a plain metadata key, a predicate that is only a superset) is
paired by the engine's own code over the matching entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._gc import gc_paused
from ..query.sql import compile_sql, text_value
from .sessions import (
    NO_END,
    NO_START,
    RESTARTED,
    IncompleteSession,
    SessionsResult,
    build_sessions,
    session_fields,
    sessions_result,
)

if TYPE_CHECKING:
    from ..query.nodes import Node
    from ..storage.archive_reader import ArchiveReader

__all__ = ["archive_sessions"]

#: Kinds of the rows the pairing statement returns.
_COMPLETE, _RESTARTED, _NO_END, _NO_START = 0, 1, 2, 3
_WHY = {_RESTARTED: RESTARTED, _NO_END: NO_END, _NO_START: NO_START}


def archive_sessions(
    reader: ArchiveReader, node: Node, key: str | Sequence[str] = ("user_id", "feature"),
    action_field: str = "action", start: Any = "start", end: Any = "end", *,
    user_field: str = "user_id", feature_field: str = "feature",
    only: Callable[[str], bool] | None = None,
) -> SessionsResult:
    """Sessions of the archived entries ``node`` matches, as the engine's ``sessions`` gives
    them: paired by the executor's window functions when the values allow it (see the
    module docstring), by the engine's code over the matching entries otherwise. O(s) rows
    back for s sessions."""
    fields = session_fields(key, action_field, start, end)
    with gc_paused():  # hundreds of thousands of session tuples, and no cycle among them
        got = _paired(reader, node, fields, action_field, start, end, user_field,
                      feature_field, only)
        if got is not None:
            return got
        events = reader.entries(node, only=only)
        return build_sessions(events, [e.ts for e in events], fields, action_field, start,
                              end, user_field=user_field, feature_field=feature_field)


def _paired(reader: ArchiveReader, node: Node, fields: tuple[str, ...], action_field: str,
            start: Any, end: Any, user_field: str, feature_field: str,
            only: Callable[[str], bool] | None) -> SessionsResult | None:
    """The sessions by window functions, or None when SQL cannot give the engine's answer."""
    if not (isinstance(start, str) and isinstance(end, str)):
        return None
    d = reader.dialect
    named = (*fields, action_field, user_field, feature_field)
    resolved = [r for r in (text_value(d, f) for f in named) if r is not None]
    if len(resolved) != len(named):
        return None
    pred = compile_sql(node, d)
    if not pred.exact:
        return None
    files = reader.files(node, only)
    if not files:
        return sessions_result(fields, [], [], [], [], [], 0, 0)
    *keys, action, user, feature = resolved
    params = dict(pred.params)
    params["s_start"], params["s_end"] = start, end
    s_start, s_end = d.param.format("s_start"), d.param.format("s_end")
    names = [f"k{i}" for i in range(len(keys))]
    # the action only needs to be text to be compared; a key, user or feature value that is
    # present but not text sends the query to the engine's pairing
    other = " OR ".join(r[1] for r in (*keys, user, feature))
    columns = ", ".join(f"{r[0]} AS {n}" for r, n in zip(keys, names, strict=True))
    events = (f"SELECT instant, id, {columns}, {action[0]} AS a, {user[0]} AS u, "
              f"{feature[0]} AS f, ({other}) AS other "
              f"FROM {reader.source(files)} WHERE {pred.sql}")
    candidate = (f"(a = {s_start} OR a = {s_end}) AND "
                 + " AND ".join(f"{n} IS NOT NULL" for n in names))
    totals = (f"SELECT count(*) AS n, count(*) FILTER (WHERE other) AS o, "
              f"count(*) FILTER (WHERE {candidate}) AS c FROM ({events}) AS ev")
    row = reader.rows(totals, params)[0]
    n, others, candidates = (int(v or 0) for v in row)
    if others:
        return None
    if not candidates:
        return sessions_result(fields, [], [], [], [], [], n, n)
    keyed = ", ".join(names)
    window = f"OVER (PARTITION BY {keyed} ORDER BY instant, id)"
    pairing = (
        f"SELECT {keyed}, a, u, f, instant, id, lead(a) {window} AS na, "
        f"lead(instant) {window} AS ni, lead(id) {window} AS nid, lag(a) {window} AS pa "
        f"FROM ({events}) AS ev WHERE {candidate}")
    kind = (f"CASE WHEN a = {s_start} AND na = {s_end} THEN {_COMPLETE} "
            f"WHEN a = {s_start} AND na = {s_start} THEN {_RESTARTED} "
            f"WHEN a = {s_start} THEN {_NO_END} "
            f"WHEN pa IS NULL OR pa = {s_end} THEN {_NO_START} END")
    sql = (f"SELECT * FROM (SELECT {kind} AS kind, {keyed}, a, u, f, instant, id, ni, nid "
           f"FROM ({pairing}) AS w) AS s WHERE kind IS NOT NULL")
    table = reader.table(sql, params)
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    return _rolled_up(fields, names, cols, n, candidates, user_field, feature_field)


def _rolled_up(fields: tuple[str, ...], names: list[str], cols: dict[str, list[Any]],
               events: int, candidates: int, user_field: str,
               feature_field: str) -> SessionsResult:
    """The session rows of the pairing statement, in the engine's orders, to its metrics."""
    rows = list(zip(cols["kind"], zip(*(cols[n] for n in names), strict=True), cols["a"],
                    cols["u"], cols["f"], cols["instant"], cols["id"], cols["ni"], cols["nid"],
                    strict=True))
    # complete sessions in order of their end; incomplete ones in time order of the event
    complete = sorted((r for r in rows if r[0] == _COMPLETE), key=lambda r: (r[7], r[8]))
    incomplete = sorted((r for r in rows if r[0] != _COMPLETE), key=lambda r: (r[5], r[6]))
    s_keys = [r[1] for r in complete]
    starts = [r[5] for r in complete]
    ends = [r[7] for r in complete]
    if fields == (user_field, feature_field):
        pairs = s_keys
    else:
        def metric(name: str, column: int) -> list[Any]:
            if name in fields:
                i = fields.index(name)
                return [k[i] for k in s_keys]
            return [r[column] for r in complete]

        pairs = list(zip(metric(user_field, 3), metric(feature_field, 4), strict=True))
    unpaired = [IncompleteSession(r[1], r[5], r[2], _WHY[r[0]]) for r in incomplete]
    return sessions_result(fields, s_keys, starts, ends, pairs, unpaired, events,
                           events - candidates)
