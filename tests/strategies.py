"""Hypothesis strategies for log_analytics_engine tests (all in one file, as attrs does).

Entries are generated as :class:`EntrySpec` objects: the raw values given to the engine
(timestamps in mixed formats, levels in any case and alias) plus what the test knows they
mean (the UTC instant, the canonical level). Tests build the :class:`LogEntry` from the spec
and compare the engine with naive implementations written from the documented rules.

Instants are whole seconds plus a multiple of 0.25 s, so every format (ISO fractions, epoch
floats, epoch milliseconds) denotes exactly the same float and ties are common.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import strategies as st

from log_analytics_engine import AlertRule, And, LogEntry, Node, Not, Or, compile_filters

UTC = timezone.utc
#: 2025-01-01T00:00:00Z
BASE = 1_735_689_600
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

LEVEL_SPELLINGS = ("trace", "debug", "info", "warn", "warning", "error", "fatal", "critical")
CANONICAL = {"WARNING": "WARN", "CRITICAL": "FATAL"}
SEVERITY = {"TRACE": 0, "DEBUG": 10, "INFO": 20, "WARN": 30, "ERROR": 40, "FATAL": 50}
SOURCES = ("api", "db", "web", "auth", "")
TAGS = ("prod", "eu", "us", "canary")
VOCAB = ("db", "timeout", "error", "connection", "refused", "user", "login", "failed",
         "cache", "miss")
USERS = ("u1", "u2", "u3")
REGIONS = ("eu", "us", "ap")
REGEXES = ("^db", "time.ut", "(?i)error", "fail(ed)?$", r"\buser\b", "x^")
#: Generic (non-reserved) filter keys the strategies use: attributes and metadata keys.
GENERIC_KEYS = ("user_id", "thread_id", "region", "n", "ok", "roles", "missing")
#: Fields the property tests give an index to (``index_fields``).
INDEX_FIELDS = ("user_id", "region", "n", "ok", "roles")


def canonical_level(spelling: str) -> str:
    upper = spelling.upper()
    return CANONICAL.get(upper, upper)


def iso_z(instant: float) -> str:
    dt = datetime.fromtimestamp(instant, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + _frac(dt) + "Z"


def _frac(dt: datetime, digits: int = 3) -> str:
    if not dt.microsecond:
        return ""
    return "." + f"{dt.microsecond:06d}"[:digits].ljust(digits, "0")


#: An instant from a small pool (ties are likely): whole minutes plus 0/.25/.5/.75 s.
instants: st.SearchStrategy[float] = st.builds(
    lambda minute, quarter: float(BASE + minute * 60 + quarter * 0.25),
    st.integers(0, 240), st.sampled_from((0, 0, 0, 1, 2, 3)),
)
_KINDS = st.sampled_from((
    "iso_z", "iso_offset", "iso_naive", "iso_space", "iso_micro", "epoch_s", "epoch_float",
    "epoch_ms", "epoch_str", "clf", "datetime", "iso_lower_z",
))
_OFFSETS = st.sampled_from((-480, -210, 60, 120, 330, 600))
_COLON = st.sampled_from((":", ""))
_UTC_SUFFIX = st.sampled_from(("", "Z", "+00:00"))
_CLF_OFFSETS = st.sampled_from((0, -420, 120))


@st.composite
def timestamp_for(draw: st.DrawFn, instant: float) -> tuple[Any, float]:
    """A raw timestamp value in a random format and the instant it denotes.

    Formats without sub-second precision (CLF, integer epoch seconds) denote the whole
    second, and the instant returned says so.
    """
    whole = float(int(instant))
    dt = datetime.fromtimestamp(instant, UTC)
    kind = draw(_KINDS)
    if kind == "iso_z":
        return iso_z(instant), instant
    if kind == "iso_lower_z":
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + _frac(dt) + "z", instant
    if kind == "iso_offset":
        minutes = draw(_OFFSETS)
        local = dt.astimezone(timezone(timedelta(minutes=minutes)))
        sign = "+" if minutes >= 0 else "-"
        hh, mm = divmod(abs(minutes), 60)
        colon = draw(_COLON)
        text = local.strftime("%Y-%m-%dT%H:%M:%S") + _frac(local) + f"{sign}{hh:02d}{colon}{mm:02d}"
        return text, instant
    if kind == "iso_naive":
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + _frac(dt), instant
    if kind == "iso_space":
        suffix = draw(_UTC_SUFFIX)
        return dt.strftime("%Y-%m-%d %H:%M:%S") + _frac(dt) + suffix, instant
    if kind == "iso_micro":
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + _frac(dt, 6) + "+00:00", instant
    if kind == "epoch_s":
        return int(instant), whole
    if kind == "epoch_float":
        return instant, instant
    if kind == "epoch_ms":
        return int(instant * 1000), instant
    if kind == "epoch_str":
        return str(int(instant)), whole
    if kind == "datetime":
        return dt, instant
    # Apache / CLF, in a random offset
    minutes = draw(_CLF_OFFSETS)
    local = datetime.fromtimestamp(whole, timezone(timedelta(minutes=minutes)))
    sign = "+" if minutes >= 0 else "-"
    hh, mm = divmod(abs(minutes), 60)
    text = (f"{local.day:02d}/{MONTHS[local.month - 1]}/{local.year}:"
            f"{local.strftime('%H:%M:%S')} {sign}{hh:02d}{mm:02d}")
    return text, whole


@st.composite
def timestamps(draw: st.DrawFn) -> tuple[Any, float]:
    """``(raw timestamp, UTC instant)`` in any supported format."""
    return draw(timestamp_for(draw(instants)))


_LEVEL_WORDS = st.sampled_from(LEVEL_SPELLINGS)
_MASKS = st.integers(0, 255)


def _case(word: str, mask: int) -> str:
    return "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(word))


#: A level name in random case, aliases included (``Warning``, ``cRITICAL``).
level_spellings: st.SearchStrategy[str] = st.builds(_case, _LEVEL_WORDS, _MASKS)

_STYLES = (str.lower, str.lower, str.upper, str.capitalize)
_SEPS = (" ", " ", ", ", ": ", "-", "/")


def _message(parts: list[tuple[str, int, int]]) -> str:
    out = ""
    for i, (w, style, sep) in enumerate(parts):
        out += ("" if i == 0 else _SEPS[sep]) + _STYLES[style](w)
    return out


#: A few words of a small vocabulary, random case and punctuation (keywords hit).
messages: st.SearchStrategy[str] = st.lists(
    st.tuples(st.sampled_from(VOCAB), st.integers(0, 3), st.integers(0, len(_SEPS) - 1)),
    max_size=5,
).map(_message)

_NUMBERS = st.one_of(st.integers(-2, 5), st.sampled_from((0.5, 1.0, 2.25)))

#: Metadata with user ids, regions, numbers, bools, None and lists.
metadata: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries({}, optional={
    "user_id": st.one_of(st.sampled_from(USERS), st.integers(1, 3)),
    "region": st.one_of(st.sampled_from(REGIONS), st.none()),
    "n": st.one_of(_NUMBERS, st.booleans(), st.none()),
    "ok": st.one_of(st.booleans(), st.integers(0, 1)),
    "roles": st.lists(st.sampled_from(("admin", "dev", "ops")), min_size=1, max_size=2,
                      unique=True),
    "source": st.sampled_from(SOURCES[:-1]),
})


@dataclass
class EntrySpec:
    """What an entry is made of, and what the test knows about it."""

    timestamp: Any
    instant: float
    level: str
    message: str
    source: str
    tags: list[str]
    user_id: str | None
    thread_id: str | None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def canonical(self) -> str:
        return canonical_level(self.level)

    def build(self) -> LogEntry:
        return LogEntry(self.timestamp, self.level, self.message, source=self.source,
                        thread_id=self.thread_id, user_id=self.user_id, tags=self.tags,
                        metadata=self.metadata)

    def resolve(self, name: str) -> Any:
        """The documented rule: the entry attribute when that is set, else the metadata key."""
        attr = {"user_id": self.user_id, "thread_id": self.thread_id,
                "source": self.source or None}.get(name)
        if attr is not None:
            return attr
        return self.metadata.get(name)


def _spec(ts: tuple[Any, float], level: str, message: str, source: str, tags: list[str],
          user_id: str | None, thread_id: str | None, md: dict[str, Any]) -> EntrySpec:
    return EntrySpec(ts[0], ts[1], level, message, source, tags, user_id, thread_id, md)


#: One entry: mixed timestamp formats, any level spelling, tags, attributes and metadata.
entry_specs: st.SearchStrategy[EntrySpec] = st.builds(
    _spec,
    timestamps(),
    level_spellings,
    messages,
    st.sampled_from(SOURCES),
    st.lists(st.sampled_from(TAGS), max_size=3, unique=True),
    st.one_of(st.none(), st.none(), st.sampled_from(USERS)),
    st.one_of(st.none(), st.sampled_from(("t1", "t2"))),
    metadata,
)


def spec_lists(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[list[EntrySpec]]:
    """Entries in arrival order (their instants are not sorted: out-of-order arrival)."""
    return st.lists(entry_specs, min_size=min_size, max_size=max_size)


# -- filters -------------------------------------------------------------------------------
@st.composite
def time_bounds(draw: st.DrawFn) -> tuple[Any, float]:
    """A time bound as ISO text, a datetime or an epoch number, and its instant."""
    instant = draw(instants)
    raw, exact = draw(timestamp_for(instant))
    return raw, exact


def _one_or_list(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, st.lists(values, min_size=1, max_size=3))


#: One or two vocabulary words in random case, separated by a space.
keyword_text: st.SearchStrategy[str] = st.lists(
    st.tuples(st.sampled_from(VOCAB), st.integers(0, 3)), min_size=1, max_size=2
).map(lambda ws: " ".join(_STYLES[style](w) for w, style in ws))


FILTER_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "start_time": time_bounds(),
    "end_time": time_bounds(),
    "level": _one_or_list(level_spellings),
    "min_severity": st.one_of(st.sampled_from((-5, 0, 10, 15, 30, 45.5, 50, 55)),
                              level_spellings),
    "source": _one_or_list(st.sampled_from(SOURCES)),
    "tags": _one_or_list(st.sampled_from((*TAGS, "absent"))),
    "tags_all": st.lists(st.sampled_from(TAGS), min_size=1, max_size=2),
    "keyword": keyword_text,
    "keywords": st.one_of(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3),
                          keyword_text),
    "regex": st.sampled_from(REGEXES),
    "user_id": _one_or_list(st.one_of(st.sampled_from(USERS), st.integers(1, 3))),
    "thread_id": _one_or_list(st.sampled_from(("t1", "t2", "t3"))),
    "region": _one_or_list(st.one_of(st.sampled_from(REGIONS), st.none())),
    "n": _one_or_list(st.one_of(st.integers(-2, 5), st.sampled_from((0.5, 2.25)),
                                st.booleans(), st.none())),
    "ok": _one_or_list(st.one_of(st.booleans(), st.integers(0, 1))),
    "roles": st.lists(st.lists(st.sampled_from(("admin", "dev", "ops")), min_size=1,
                               max_size=2, unique=True), min_size=1, max_size=2),
    "missing": _one_or_list(st.one_of(st.none(), st.just("x"))),
}


@st.composite
def filter_dicts(draw: st.DrawFn, max_keys: int = 4) -> dict[str, Any]:
    """A random filter dict over every filter key of the issue (time bounds as raw values).

    Time bounds are stored as ``(raw, instant)`` pairs under ``start_time``/``end_time``;
    use :func:`raw_filters` for the dict given to the engine.
    """
    keys = draw(st.lists(st.sampled_from(sorted(FILTER_STRATEGIES)), max_size=max_keys,
                         unique=True))
    return {k: draw(FILTER_STRATEGIES[k]) for k in keys}


def raw_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """The filter dict for the engine (time bounds as their raw value)."""
    return {k: (v[0] if k in ("start_time", "end_time") else v) for k, v in filters.items()}


# -- query trees ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Tree:
    """A query tree and the same tree as nested tuples of filter dicts (for the naive side)."""

    node: Node
    shape: Any


@st.composite
def leaf_trees(draw: st.DrawFn) -> Tree:
    filters = draw(filter_dicts(max_keys=2))
    return Tree(compile_filters(raw_filters(filters)), ("leaf", filters))


def _combine(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
    def and_(ts: list[Tree]) -> Tree:
        return Tree(And(tuple(t.node for t in ts)), ("and", [t.shape for t in ts]))

    def or_(ts: list[Tree]) -> Tree:
        return Tree(Or(tuple(t.node for t in ts)), ("or", [t.shape for t in ts]))

    def not_(t: Tree) -> Tree:
        return Tree(Not(t.node), ("not", t.shape))

    return st.one_of(
        st.lists(children, min_size=0, max_size=3).map(and_),
        st.lists(children, min_size=0, max_size=3).map(or_),
        children.map(not_),
    )


trees: st.SearchStrategy[Tree] = st.recursive(leaf_trees(), _combine, max_leaves=6)


def json_line(**fields: Any) -> str:
    """One JSONL line (a helper for file tests)."""
    return json.dumps(fields)


# -- JSON records of any shape (fast paths against their specifications) ------------------
_JSON_INSTANTS = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1))
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=5),
    st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=3),
                                                               st.integers(), max_size=2),
)


@st.composite
def json_records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {}
    if draw(st.booleans()):
        stamp = draw(_JSON_INSTANTS).replace(tzinfo=timezone.utc) + timedelta(0)
        record["timestamp"] = draw(st.sampled_from([
            stamp.isoformat(), stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), "not a time", 12,
            "1753099200", None,
        ]))
    for key in ("level", "message", "source", "thread_id", "request_id", "user_id", "tags",
                "metadata", "extra_key"):
        if draw(st.booleans()):
            if key == "level":
                record[key] = draw(st.sampled_from(["info", "WARNING", "bogus", "", 3, None]))
            elif key == "tags":
                record[key] = draw(st.one_of(st.lists(st.text(max_size=3), max_size=3),
                                             _VALUES))
            elif key == "metadata":
                record[key] = draw(st.one_of(st.dictionaries(st.text(max_size=3), _VALUES,
                                                             max_size=3), _VALUES))
            else:
                record[key] = draw(_VALUES)
    return record


# -- the archive: odd text and every metadata value type ---------------------------------
#: Text with odd Unicode: combining marks, emoji, right-to-left, ligatures, NUL, surrogates.
odd_text: st.SearchStrategy[str] = st.one_of(
    messages,
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
    st.sampled_from(("Straße STRASSE", "ﬁle ﬂow", "İstanbul ı", "e\u0301 café", "👍🏽 ok",
                     "עברית db", "a\x00b timeout", "\ud800 lone", "", " ", "x_y-z 1.5e3")),
)
_JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from((0.5, 1.0, -0.0, 2.25)),
    odd_text, st.integers(2**64, 2**70),
)
#: Metadata of every value type the engine accepts (nested lists and dicts, big integers,
#: non-finite floats and lone surrogates are normalised by the engine).
rich_metadata: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    st.one_of(st.sampled_from(("deep", "k.e\"y", "lat")), odd_text),
    st.recursive(_JSON_SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
        max_leaves=4),
    max_size=4,
)
archive_metadata: st.SearchStrategy[dict[str, Any]] = st.one_of(
    metadata, rich_metadata,
    st.fixed_dictionaries({"action": st.sampled_from(("start", "end", "other")),
                           "feature": st.sampled_from(("f1", "f2")),
                           "lat": st.one_of(st.integers(0, 100), st.floats(0, 100),
                                            st.sampled_from((1.5, 2, "slow", True)))}),
)


def _archive_spec(spec: EntrySpec, message: str, md: dict[str, Any]) -> EntrySpec:
    spec.message = message
    spec.metadata = md
    return spec


#: Entries for archive tests: the usual ones with odd messages and any metadata.
archive_specs: st.SearchStrategy[EntrySpec] = st.builds(
    _archive_spec, entry_specs, st.one_of(messages, odd_text), archive_metadata)


# -- alert rules ---------------------------------------------------------------------------
RULE_CONDITIONS: list[dict[str, Any]] = [
    {}, {"level": "ERROR"}, {"min_severity": "WARN"}, {"source": "api"},
    {"keyword": "timeout"}, {"source": "db", "keyword": "disk"}, {"tags": ["a", "b"]},
    {"regex": "pay"}, {"level": ["ERROR", "FATAL"], "regex": "^t"}, {"user_id": "u1"},
    {"region": "eu"}, {"tags": ["prod", "eu"]}, {"keyword": "error"},
]
RULE_GROUPS = (None, "source", "user_id", "region", "n", "level")
RULE_FIELDS = ("message", "source", "user_id", "region", "n", "tags")


@st.composite
def alert_rules(draw: st.DrawFn) -> list[AlertRule]:
    """One to four rules of every kind (threshold, spike, absence, new_term), grouped or
    not, with cooldowns, some disabled."""
    out = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("threshold", "spike", "absence", "new_term")))
        out.append(AlertRule(
            f"r{i}", conditions=draw(st.sampled_from(RULE_CONDITIONS)),
            threshold=draw(st.integers(1, 4)),
            time_window=draw(st.sampled_from((10.0, 30.0, 60.0))),
            cooldown=draw(st.sampled_from((0.0, 15.0, 45.0))),
            enabled=draw(st.booleans()) or draw(st.booleans()),
            kind=kind, group_by=draw(st.sampled_from(RULE_GROUPS)),
            spike_ratio=draw(st.sampled_from((1.5, 2.0))),
            field=draw(st.sampled_from(RULE_FIELDS)) if kind == "new_term" else None))
    return out


def fingerprint(entry: LogEntry) -> tuple[Any, ...]:
    """Every field of ``entry`` with its type (``repr`` tells 1, 1.0 and True apart and
    keeps NaN equal to itself): what "the same entry" means now that stored entries are
    built on demand (equal objects, not the same one)."""
    return (repr(entry.ts), repr(entry.timestamp), entry.level, entry.message, entry.source,
            entry.thread_id, entry.request_id, entry.user_id, repr(entry.tags),
            repr(entry.metadata))


# -- JSON lines written with every liberty the grammar allows ------------------------------
_WS = st.sampled_from(["", "", " ", "  ", "\t", "\r", " \r\n "])
_NUMBER_TEXTS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f"{f:.17e}"),
    st.sampled_from(["0", "-0", "-0.0", "0.0", "1E5", "1e+5", "2.5e-3", "1e400", "-1e400",
                     "1e-400", "01", "-01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "1_0",
                     "123456789012345678", "-123456789012345678", "1234567890123456789",
                     "NaN", "Infinity", "-Infinity", "4.9e-324", "2.2250738585072014e-308",
                     "1.7976931348623157e308", "0.1e1", "9007199254740993", "1.5E-7", "tru",
                     "nul", "falsey"]),
)
_TEXTS = st.text(max_size=12)


_VALID_NUMBERS = st.one_of(
    st.integers(-(2**63), 2**63).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f"{f:.17e}"),
    st.sampled_from(["0", "-0", "-0.0", "1E5", "1e+5", "2.5e-3", "1e-400", "4.9e-324",
                     "0.1e1", "9007199254740993", "1.5E-7", "123456789012345678", "1.50",
                     "100.0", "0.0001", "0.00001", "123456789012345.0", "1234567890123456.0",
                     "0.000123456789012345", "2.0e0", "7.25"]),
)


@st.composite
def _string_texts(draw: st.DrawFn, clean: bool = False) -> str:
    """A JSON string token: escaped by json.dumps, raw UTF-8, or broken."""
    text = draw(_TEXTS)
    how = draw(st.sampled_from(["ascii", "raw", "raw", "raw"] + ([] if clean else ["broken"])))
    if how == "ascii":
        return json.dumps(text)
    if how == "raw":  # what orjson.dumps writes: UTF-8, escapes only where JSON needs them
        return orjson.dumps(text).decode()
    return draw(st.sampled_from(['"\\"', '"\x01"', '"a', '"\\q"', "'a'", '"\\u12"']))


@st.composite
def _scalar_texts(draw: st.DrawFn, clean: bool = False) -> str:
    if clean:
        return draw(st.one_of(_string_texts(True), _VALID_NUMBERS,
                              st.sampled_from(["true", "false", "null"])))
    return draw(st.one_of(_string_texts(), _NUMBER_TEXTS,
                          st.sampled_from(["true", "false", "null", "[]", "{}", '["a"]',
                                           '{"a": 1}'])))


_STAMPS = st.sampled_from([
    '"2025-07-20T08:26:40.065Z"', '"2025-07-20 08:26:40+02:00"', '"2025-07-20T08:26:40"',
    '"2025-07-20"', '"21/Jul/2025:12:00:00 +0000"', '"not a time"', "1753000000", "1753000000000.5",
    "null", '"2025-13-01T00:00:00Z"', '"\\u0032025-07-20T08:26:40Z"', '"2025-07-20T08:26:40Z "',
])
_GOOD_STAMPS = st.sampled_from(['"2025-07-20T08:26:40.065Z"', '"2025-07-20 08:26:40+02:00"',
                                '"2025-07-20T08:26:40"', '"2024-02-29T23:59:59.999999-0800"'])


@st.composite
def _field_texts(draw: st.DrawFn, key: str, clean: bool = False) -> str:
    ws = _WS
    if key == "timestamp":
        return draw(_GOOD_STAMPS if clean else _STAMPS)
    if key == "level":
        return draw(st.sampled_from(['"INFO"', '"WARNING"', "null", '"ERROR"', '"FATAL"',
                                     '"DEBUG"', '"TRACE"', '"CRITICAL"', '"WARN"', '"info"']
                                    + ([] if clean else ['"Critical"', '"bogus"', '""', "3"])))
    if key == "tags":
        if not clean and draw(st.booleans()):
            return draw(_scalar_texts())
        if clean and draw(st.integers(0, 5)) == 0:
            return "null"
        items = draw(st.lists(_string_texts(clean), max_size=3))
        return "[" + ",".join(draw(ws) + t + draw(ws) for t in items) + draw(ws) + "]"
    if key == "metadata":
        if draw(st.integers(0, 4)) == 0:
            return "null" if clean else draw(_scalar_texts())
        keys = draw(st.lists(st.one_of(_string_texts(clean), st.sampled_from(
            ['"user_id"', '"latency_ms"', '"request_id"', '"a"', '"b_1"', '"_x"'])),
            max_size=4))
        return "{" + ",".join(f"{draw(ws)}{k}{draw(ws)}:{draw(ws)}{draw(_scalar_texts(clean))}"
                              for k in keys) + draw(ws) + "}"
    if key == "message":
        return draw(_string_texts(clean)) if clean else draw(
            st.one_of(_string_texts(), st.sampled_from(["null", "1", "[]"])))
    return draw(st.one_of(_string_texts(clean), st.sampled_from(
        ["null"] if clean else ["null", "1", "[]"])))


_FIELDS = ["timestamp", "level", "message", "source", "thread_id", "request_id", "user_id",
           "tags", "metadata"]


@st.composite
def raw_json_lines(draw: st.DrawFn) -> bytes:
    """A JSON line written with every liberty the grammar allows (and, unless clean, a few
    it does not)."""
    clean = draw(st.booleans())
    if clean:
        keys = draw(st.lists(st.sampled_from(_FIELDS[1:]), unique=True, max_size=8))
        keys.insert(draw(st.integers(0, len(keys))), "timestamp")
    else:
        keys = draw(st.lists(st.sampled_from([*_FIELDS, "timestamp", "extra", "ts"]),
                             max_size=9))
        if draw(st.integers(0, 3)):
            keys = ["timestamp", *keys]
    members = [f'{draw(_WS)}"{k}"{draw(_WS)}:{draw(_WS)}{draw(_field_texts(k, clean))}'
               f"{draw(_WS)}" for k in keys]
    data = (draw(_WS) + "{" + ",".join(members) + draw(_WS) + "}" + draw(_WS)).encode()
    cut = "none" if clean else draw(st.sampled_from(["none", "truncate", "insert"]))
    if cut == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif cut == "insert":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b",", b"}", b'"',
                                                 b"\xe9", b"\xed\xa0\x80"])) + data[at:]
    return data
