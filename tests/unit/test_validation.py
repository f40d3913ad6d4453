"""Event validation schema, type coercion and JSONL event parsing."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from log_analytics_engine import InvalidFieldError, LogAnalyticsEngine, MissingFieldError
from log_analytics_engine.errors import InvalidTimestampError
from log_analytics_engine.events.validation import (
    EventSchema,
    _compile,
    coerce_bool,
    coerce_number,
    event_to_entry,
    parse_event_lines,
    validate_event,
    validate_events,
)

GOOD = {"user_id": "u1", "feature": "search", "timestamp": "2025-07-21T10:00:00Z",
        "action": "start"}


def with_(**changes: Any) -> dict[str, Any]:
    record = {**GOOD, **changes}
    return {k: v for k, v in record.items() if v is not ...}


# -- coercion ------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    ("34", 34), ("7.5", 7.5), (" 12 ", 12), (3, 3), (2.5, 2.5), ("1e3", 1000.0),
    ("abc", None), (None, None), ("", None), (True, None), ("nan", None), ("inf", None),
    (float("nan"), None), ([1], None),
])
def test_coerce_number(value: Any, expected: Any) -> None:
    got = coerce_number(value)
    assert got == expected
    assert type(got) is type(expected)


@given(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
def test_coerce_number_reads_back_the_text_of_any_number(number: float) -> None:
    assert coerce_number(str(number)) == number


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), ("True", True), ("false", False), (1, True), (0, False),
    ("yes", True), ("NO", False), ("1", True), ("0", False), (None, None), ("maybe", None),
    (2, None), ("", None), ({}, None),
])
def test_coerce_bool(value: Any, expected: bool | None) -> None:
    assert coerce_bool(value) is expected


def test_schema_coerces_requested_metadata_fields() -> None:
    schema = EventSchema(coerce={"score": "number", "premium": "bool", "age": "number"})
    entry = validate_event(with_(score="34", premium="yes", age="abc", other="7"), schema)
    assert entry.metadata["score"] == 34
    assert entry.metadata["premium"] is True
    assert entry.metadata["age"] is None
    assert entry.metadata["other"] == "7"


def test_schema_rejects_an_unknown_coercion() -> None:
    with pytest.raises(InvalidFieldError):
        EventSchema(coerce={"x": "date"})  # type: ignore[dict-item]


# -- validation ----------------------------------------------------------------------------
def test_valid_event_maps_to_an_info_entry() -> None:
    entry = validate_event(with_(extra=1))
    assert (entry.level, entry.message, entry.user_id) == ("INFO", "start search", "u1")
    assert entry.metadata == {"feature": "search", "action": "start", "extra": 1}
    assert entry.ts == 1_753_092_000.0


@pytest.mark.parametrize("name", ["user_id", "feature", "timestamp", "action"])
def test_missing_required_field_is_rejected(name: str) -> None:
    with pytest.raises(MissingFieldError) as info:
        validate_event(with_(**{name: ...}))
    assert info.value.field == name


def test_none_counts_as_missing() -> None:
    with pytest.raises(MissingFieldError):
        validate_event(with_(feature=None))


@pytest.mark.parametrize("action", ["stop", "START", "", 1, True, ["start"]])
def test_action_outside_allowed_values_is_rejected(action: Any) -> None:
    with pytest.raises(InvalidFieldError) as info:
        validate_event(with_(action=action))
    assert info.value.field == "action"


@pytest.mark.parametrize("feature", ["", "   ", 5, ["x"]])
def test_feature_must_be_a_non_empty_string(feature: Any) -> None:
    with pytest.raises(InvalidFieldError) as info:
        validate_event(with_(feature=feature))
    assert info.value.field == "feature"


def test_feature_allow_list() -> None:
    schema = EventSchema(features=frozenset({"search"}))
    assert validate_event(GOOD, schema).metadata["feature"] == "search"
    with pytest.raises(InvalidFieldError, match="not an allowed feature"):
        validate_event(with_(feature="cart"), schema)


@pytest.mark.parametrize("stamp", ["2025-13-45T99:00:00Z", "yesterday", "", True, [1]])
def test_invalid_timestamp_is_rejected(stamp: Any) -> None:
    with pytest.raises(InvalidTimestampError):
        validate_event(with_(timestamp=stamp))


def test_epoch_timestamps_are_valid() -> None:
    assert validate_event(with_(timestamp=1_753_092_000)).ts == 1_753_092_000.0


def test_non_object_record_is_rejected() -> None:
    with pytest.raises(InvalidFieldError):
        validate_event(["u1", "search"])


def test_validate_events_returns_entries_and_positioned_errors() -> None:
    entries, errors = validate_events([GOOD, with_(action="pause"), GOOD])
    assert len(entries) == 2
    assert [(e.line, e.kind, e.field) for e in errors] == [(2, "validation", "action")]


def test_validate_events_does_not_change_the_records() -> None:
    record = dict(GOOD)
    validate_events([record])
    assert record == GOOD


def test_engine_ingest_events_stores_valid_records_only() -> None:
    engine = LogAnalyticsEngine()
    count, errors = engine.ingest_events([GOOD, with_(user_id=...)])
    assert (count, len(engine), len(errors)) == (1, 1, 1)
    assert engine.count_logs({"keyword": "search", "action": "start"}) == 1
    engine._check()


# -- JSONL lines ---------------------------------------------------------------------------
def test_parse_event_lines_counts_and_numbers_errors() -> None:
    lines = [orjson.dumps(GOOD), b"", b"{not json", b"[1, 2]", b"  \n",
             orjson.dumps(with_(action="pause")), orjson.dumps(GOOD) + b"\n"]
    parsed = parse_event_lines(lines)
    assert parsed.stats() == {"total_lines": 5, "valid": 2, "parse_errors": 2,
                              "validation_errors": 1}
    assert [(e.line, e.kind) for e in parsed.errors] == [
        (3, "parse"), (4, "parse"), (6, "validation")]
    assert parsed.errors[0].reason.startswith("malformed JSON")
    assert parsed.errors[1].reason == "expected a JSON object, got list"


@given(st.lists(st.sampled_from(["good", "bad_json", "bad_action", "blank"]), max_size=30))
def test_parse_stats_always_add_up(kinds: list[str]) -> None:
    text = {"good": orjson.dumps(GOOD), "bad_json": b'{"a":', "blank": b"",
            "bad_action": orjson.dumps(with_(action="x"))}
    parsed = parse_event_lines([text[k] for k in kinds])
    st_ = parsed.stats()
    assert st_["total_lines"] == st_["valid"] + st_["parse_errors"] + st_["validation_errors"]
    assert st_["total_lines"] == sum(k != "blank" for k in kinds)
    assert [e.line for e in parsed.errors] == [
        i for i, k in enumerate(kinds, 1) if k in ("bad_json", "bad_action")]


def test_error_to_dict_has_line_kind_reason() -> None:
    (error,) = parse_event_lines([b"oops"]).errors
    assert set(error.to_dict()) == {"line", "kind", "reason"}
    assert error.to_dict()["line"] == 1


def test_parse_event_lines_reports_an_invalid_timestamp() -> None:
    (error,) = parse_event_lines([orjson.dumps(with_(timestamp="yesterday"))]).errors
    assert (error.kind, error.field) == ("validation", "timestamp")
    assert error.reason.startswith("invalid timestamp 'yesterday'")


def _outcome(check: Any, record: Any) -> Any:
    try:
        e = check(record)
    except (InvalidFieldError, MissingFieldError) as exc:
        return type(exc).__name__, str(exc)
    return e.ts, e.level, e.message, e.user_id, e.metadata


_field_values = st.one_of(st.none(), st.sampled_from(["", " ", "start", "end", "search", "u1",
                                                      "2025-07-21T10:00:00Z", "bad"]),
                          st.integers(-2, 2), st.booleans(), st.lists(st.integers(), max_size=1))


@given(st.dictionaries(st.sampled_from(["user_id", "feature", "timestamp", "action", "score",
                                        "flag"]), _field_values),
       st.sampled_from([EventSchema(), EventSchema(features=frozenset({"search"}),
                                                   coerce={"score": "number", "flag": "bool"})]))
def test_generated_checker_agrees_with_the_general_one(record: dict[str, Any],
                                                       schema: EventSchema) -> None:
    assert _outcome(schema.validator, dict(record)) == _outcome(_compile(schema), dict(record))
    assert _outcome(schema._owned_validator, dict(record)) == _outcome(_compile(schema),
                                                                       dict(record))


def test_event_to_entry_maps_without_checks() -> None:
    schema = EventSchema(coerce={"score": "number"})
    entry = event_to_entry(with_(action="pause", score="5"), schema)
    assert (entry.message, entry.user_id, entry.metadata["score"]) == ("pause search", "u1", 5)
