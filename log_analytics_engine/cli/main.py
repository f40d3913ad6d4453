"""The ``log-analytics`` command line: the parser, one module per command.

Each command module has a ``register_<name>(subparsers)`` that adds its parser and sets
``func`` to its ``cmd_<name>(args) -> int``. Shared helpers live in :mod:`.common`. Errors the
user can fix print one line to stderr and exit with the code the table in :mod:`.common`
gives; they never print a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import LogAnalyticsError, UnknownFieldWarning
from .alerts import register_alerts
from .archive import register_archive
from .common import (
    EXIT_CODES,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CliError,
    accelerator_status,
    package_version,
)
from .demo import register_demo
from .generate import register_generate
from .pipeline import register_pipeline
from .query import register_query
from .sample import register_sample
from .serve import register_serve
from .stats import register_stats
from .tail import register_tail

__all__ = ["COMMANDS", "build_parser", "main"]

#: Every sub-command's registration function, in ``--help`` order.
COMMANDS: list[Callable[[Any], None]] = [
    register_sample, register_demo, register_serve, register_query, register_stats, register_tail,
    register_alerts, register_generate, register_pipeline, register_archive,
]


def build_parser() -> argparse.ArgumentParser:
    """The ``log-analytics`` parser with every command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="log-analytics",
        description="In-process log analytics: ingest, query, aggregate and alert on logs.",
        epilog="examples:\n  log-analytics sample app.jsonl --lines 1000\n"
               "  log-analytics query app.jsonl -q 'level:ERROR'\n  log-analytics demo\n\n"
               + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version",
                        version=f"log-analytics {package_version()} ({accelerator_status()})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``log-analytics``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        with warnings.catch_warnings():  # the commands print them as one-line notes
            warnings.simplefilter("ignore", UnknownFieldWarning)
            return int(args.func(args) or 0)
    except CliError as exc:
        print(f"log-analytics: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (ValueError, OSError, LogAnalyticsError) as exc:  # a damaged archive, a timeout
        print(f"log-analytics: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
