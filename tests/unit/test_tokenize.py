"""What a word is: the one definition shared by the keyword index and keyword filters."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.model.tokenize import tokenize, words


def test_words_split_on_punctuation_and_lowercase() -> None:
    assert words("Connection REFUSED: db-01, retry_in 5s") == [
        "connection", "refused", "db", "01", "retry_in", "5s"]


def test_tokenize_returns_distinct_words() -> None:
    assert tokenize("Timeout timeout TIMEOUT") == frozenset({"timeout"})


def test_unicode_letters_are_word_characters() -> None:
    assert words("Überlauf: naïve café") == ["überlauf", "naïve", "café"]


def test_empty_and_punctuation_only_text_has_no_words() -> None:
    assert tokenize("") == frozenset()
    assert tokenize(" -- !! ") == frozenset()


@given(st.text(max_size=60))
def test_tokenize_is_the_set_of_casefolded_word_runs(text: str) -> None:
    assert tokenize(text) == frozenset(re.findall(r"\w+", text.casefold()))


@given(st.text(max_size=60))
def test_words_contain_no_separators(text: str) -> None:
    for w in words(text):
        assert re.fullmatch(r"\w+", w)


@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40))
def test_every_word_of_a_message_finds_it_by_keyword(text: str) -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_log(LogEntry(0, "INFO", text))
    for w in tokenize(text):
        assert engine.count_logs({"keyword": w}) == 1, w
        assert engine.count_logs({"keyword": w.upper()}) == 1, w


@pytest.mark.parametrize(("message", "keyword"), [
    ("Straße gesperrt", "STRASSE"), ("5 µs latency", "ΜS"),
])
def test_keyword_case_insensitivity_is_unicode_case_folding(message: str, keyword: str) -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_log(LogEntry(0, "INFO", message))
    assert engine.count_logs({"keyword": keyword}) == 1


def test_keyword_matches_whole_words_only() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_log(LogEntry(0, "INFO", "timeouts happen"))
    assert engine.count_logs({"keyword": "timeout"}) == 0
