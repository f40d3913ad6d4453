"""``log-analytics sample FILE --lines N``: write a sample JSONL log file to try things on."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..events.sample import STYLES, write_jsonl
from .common import CliError, add_command, positive

__all__ = ["cmd_sample", "register_sample"]


def register_sample(sub: Any) -> None:
    p = add_command(
        sub, "sample", "write a sample JSONL log file (readable application logs)",
        "Write N JSON log lines of a small web shop (HTTP requests, payments, cache, logins, "
        "database, e-mail, search) to FILE, then print the first line. The same seed gives "
        "the same file. --style synthetic writes the benchmark corpus instead (a 5,000-word "
        "Zipf vocabulary).\n\nexamples:\n"
        "  log-analytics sample app.jsonl --lines 1000\n"
        "  log-analytics sample big.jsonl --lines 1000000 --seed 7")
    p.add_argument("output", metavar="FILE", help="the JSONL file to write")
    p.add_argument("--lines", type=positive, default=1000, help="number of lines (default 1000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--style", choices=STYLES, default="realistic",
                   help="realistic application logs (default) or the synthetic benchmark corpus")
    p.set_defaults(func=cmd_sample)


def cmd_sample(args: argparse.Namespace) -> int:
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise CliError(f"output folder does not exist: {folder}")
    if os.path.isdir(args.output):
        raise CliError(f"{args.output}: is a directory")
    try:
        size = write_jsonl(args.output, args.lines, args.seed, style=args.style)
        with open(args.output, encoding="utf-8") as fh:
            first = fh.readline().rstrip("\n")
    except OSError as exc:
        raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"Wrote {args.lines:,} log lines ({size / 1e3:,.1f} kB, seed {args.seed}) to "
          f"{args.output}; the first one:\n{first}")
    return 0
