"""``log-analytics alerts FILES --rules RULES``: replay alert rules over log files in event
time. Also :func:`load_rules`, shared with ``tail`` and ``serve``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..alerts import AlertRule
from ..alerts import load_rules as _load_rule_file
from ..storage.codec import dumps
from .common import (
    CliError,
    Out,
    add_command,
    add_type,
    alert_json,
    alert_row,
    guarded,
    ingest_reporting,
    make_engine,
)

__all__ = ["cmd_alerts", "load_rules", "register_alerts"]


def load_rules(path: str) -> list[AlertRule]:
    """Alert rules from a JSON rules file (``{"rules": [...]}`` or a bare list).

    Delegates to :func:`log_analytics_engine.alerts.load_rules`; any problem raises
    ``CliError`` naming the file and the rule.
    """
    try:
        return _load_rule_file(path)
    except FileNotFoundError:
        raise CliError(f"no such rules file: {path}") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a directory, not a rules file") from None
    except (OSError, ValueError) as exc:
        raise CliError(f"{path}: {exc}") from None


def register_alerts(sub: Any) -> None:
    p = add_command(sub, "alerts", "replay alert rules over log files",
                    "Evaluate the alert rules of RULES over FILES in event time and print "
                    "every alert they would have fired. RULES is a JSON list of rule "
                    "objects, e.g.\n"
                    '  [{"name": "errors", "conditions": {"level": "ERROR"}, "threshold": 5,\n'
                    '    "time_window": 60, "severity": "HIGH", "cooldown": 300}]\n\n'
                    "examples:\n  log-analytics alerts app.jsonl --rules rules.json\n"
                    "  log-analytics alerts logs/*.jsonl --rules rules.json --format json")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL or text files (gzip ok)")
    p.add_argument("--rules", required=True, help="JSON file with a list of alert rules")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="output format (default: table)")
    add_type(p)
    p.set_defaults(func=guarded(cmd_alerts))


def cmd_alerts(args: argparse.Namespace) -> int:
    rules = load_rules(args.rules)
    engine = make_engine()
    for rule in rules:
        engine.add_alert_rule(rule)
    ingest_reporting(engine, args.files, args.type)
    alerts = engine.get_alerts()
    out = Out()
    if args.format == "json":
        out.line(dumps([alert_json(a) for a in alerts], indent=True).decode())
    else:
        for a in alerts:
            out.line(alert_row(out, a))
        print(f"{len(alerts)} alert(s) from {len(rules)} rule(s)", file=sys.stderr)
    return 0
