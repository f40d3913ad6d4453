"""``log-analytics pipeline INPUT --out DIR``: validate a JSONL event file, pair sessions,
print the report and write the JSON summaries (the library half is
:mod:`log_analytics_engine.events.pipeline`)."""

from __future__ import annotations

import argparse
from typing import Any

from ..events.pipeline import ensure_writable_dir, render_report, run_pipeline
from .common import CliError, add_command, check_input_file

__all__ = ["cmd_pipeline", "register_pipeline"]


def register_pipeline(sub: Any) -> None:
    p = add_command(
        sub, "pipeline", "validate a JSONL event file, pair sessions and write summaries",
        "Parse and validate INPUT (JSONL event lines, plain or gzip), pair start/end events "
        "into sessions per user and feature, print the statistics and metrics, and write "
        "DIR/parsed_summary.json and DIR/final_summary.json.\n\n"
        "examples:\n  log-analytics pipeline events.jsonl --out results/")
    p.add_argument("input", metavar="INPUT", help="the JSONL event file")
    p.add_argument("--out", metavar="DIR", default=".",
                   help="folder for the JSON summaries (default: the current folder)")
    p.set_defaults(func=cmd_pipeline)


def cmd_pipeline(args: argparse.Namespace) -> int:
    check_input_file(args.input)
    try:
        ensure_writable_dir(args.out)
    except OSError as exc:
        raise CliError(f"cannot write to output folder {args.out}: "
                       f"{exc.strerror or exc}") from None
    try:
        result = run_pipeline(args.input, args.out)
    except EOFError:  # a truncated gzip file
        raise CliError(f"{args.input}: unexpected end of compressed data") from None
    except OSError as exc:
        where = exc.filename or args.input
        raise CliError(f"{where}: {exc.strerror or exc}") from None
    print(render_report(result))
    return 0
