"""``log-analytics generate OUTPUT``: a sample JSONL file of session events, with errors."""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

from ..events.pipeline import write_event_jsonl
from .common import CliError, UsageError, add_command

__all__ = ["cmd_generate", "register_generate"]


def register_generate(sub: Any) -> None:
    p = add_command(
        sub, "generate", "write a sample JSONL file of session events (with errors)",
        "Write about N event lines (user_id, feature, timestamp, action) with deliberate "
        "errors: malformed JSON, missing fields, invalid timestamps and invalid actions. "
        "The same seed gives the same file.\n\nexamples:\n"
        "  log-analytics generate events.jsonl --lines 10000 --seed 7")
    p.add_argument("output", metavar="OUTPUT", help="the JSONL file to write")
    p.add_argument("--lines", type=int, default=10_000, help="number of lines (default 10000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--error-rate", type=float, default=0.04,
                   help="share of broken lines, 0 to 1 (default 0.04)")
    p.set_defaults(func=cmd_generate)


def cmd_generate(args: argparse.Namespace) -> int:
    if args.lines < 1:
        raise UsageError("--lines must be at least 1")
    if not (0.0 <= args.error_rate <= 1.0) or math.isnan(args.error_rate):
        raise UsageError("--error-rate must be between 0 and 1")
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise CliError(f"output folder does not exist: {folder}")
    try:
        size = write_event_jsonl(args.output, args.lines, args.seed, args.error_rate)
    except OSError as exc:
        raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"Wrote {args.lines:,} event lines ({size / 1e6:.1f} MB, seed {args.seed}) "
          f"to {args.output}")
    return 0
