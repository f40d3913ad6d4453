"""Metric families and their exposition (Prometheus text format 0.0.4, JSON).

The engine snapshots its counters into :class:`MetricFamily` objects under its lock;
:func:`render_prometheus` is a pure function of those families (servers and the CLI only
call it), as ``prometheus_client.generate_latest`` is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["CONTENT_TYPE", "MetricFamily", "Sample", "escape_label", "json_document",
           "render_json", "render_prometheus"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Sample:
    """One value of a family, with its labels and an optional name suffix (``_sum``...)."""

    labels: Mapping[str, str]
    value: float
    suffix: str = ""


@dataclass
class MetricFamily:
    """A named metric of one type (``counter``, ``gauge``, ``summary``, ``histogram``).

    Counter names end in ``_total`` as the exposition format asks.
    """

    name: str
    type: str
    help: str
    samples: list[Sample] = field(default_factory=list)

    def add(self, value: float, suffix: str = "", **labels: str) -> MetricFamily:
        self.samples.append(Sample(labels, value, suffix))
        return self


def escape_label(value: str) -> str:
    r"""Escape a label value: backslash, double quote and newline (so nothing forges a series).

    >>> escape_label('a"b\\c\nd')
    'a\\"b\\\\c\\nd'
    """
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def render_prometheus(families: Iterable[MetricFamily]) -> str:
    """The Prometheus text exposition of ``families`` (HELP and TYPE for every family).

    >>> print(render_prometheus([MetricFamily("x_total", "counter", "Xs.").add(3, a="b")]))
    # HELP x_total Xs.
    # TYPE x_total counter
    x_total{a="b"} 3
    <BLANKLINE>
    """
    lines: list[str] = []
    for fam in families:
        base = fam.name[: -len("_total")] if fam.type == "counter" and fam.name.endswith(
            "_total") else fam.name
        lines.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
        lines.append(f"# TYPE {fam.name} {fam.type}")
        for s in fam.samples:
            name = (fam.name if not s.suffix else base + s.suffix)
            if s.labels:
                body = ",".join(f'{k}="{escape_label(str(v))}"' for k, v in s.labels.items())
                lines.append(f"{name}{{{body}}} {_format_value(s.value)}")
            else:
                lines.append(f"{name} {_format_value(s.value)}")
    return "\n".join(lines) + "\n"


def render_json(stats: Mapping[str, Any]) -> str:
    """``stats`` as JSON text (keys that are not strings become strings). O(size)."""
    return orjson.dumps(stats, option=orjson.OPT_NON_STR_KEYS, default=str).decode()


def json_document(stats: Mapping[str, Any]) -> dict[str, Any]:
    """``stats`` as plain JSON data: a dict of str keys, lists, numbers, strings, bools and
    None, so ``json.dumps`` accepts it as is and it equals ``json.loads(render_json(stats))``.

    >>> json_document({"total_logs": 2, "levels": {1: "x"}})
    {'total_logs': 2, 'levels': {'1': 'x'}}
    """
    data: dict[str, Any] = orjson.loads(render_json(stats))
    return data
