"""Alert rules on a small generated corpus: threshold, grouped, spike, absence and new-term.

Run: python examples/alert_rules.py
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from log_analytics_engine import AlertRule, AlertSeverity, LogAnalyticsEngine, LogEntry
from log_analytics_engine.events.sample import generate_records


def main() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(AlertRule(
        name="High Error Rate", description="3+ ERROR logs in 2 minutes",
        conditions={"level": "ERROR"}, severity=AlertSeverity.HIGH,
        threshold=3, time_window=120, cooldown=60))
    engine.add_alert_rule(AlertRule(
        name="Errors per service", conditions={"min_severity": "ERROR"}, threshold=5,
        time_window=60, cooldown=300, group_by="source", severity="MEDIUM"))
    engine.add_alert_rule(AlertRule(
        name="Timeout spike", conditions={"keyword": "timeout"}, kind="spike",
        spike_ratio=3.0, threshold=10, time_window=30, cooldown=120))
    engine.add_alert_rule(AlertRule(
        name="Payments went quiet", conditions={"source": "svc-payment-nowhere"},
        kind="absence", threshold=1, time_window=600, severity="CRITICAL"))
    engine.add_alert_rule(AlertRule(
        name="New failing service", conditions={"level": "FATAL"}, kind="new_term",
        field="source", severity="LOW"))

    received: Counter[str] = Counter()
    engine.add_alert_notification_hook(lambda alert: received.update([alert.rule_name]))

    engine.ingest_logs(LogEntry.from_dict(r) for r in generate_records(20_000, seed=3))

    print("alerts per rule:")
    for name, count in sorted(received.items()):
        print(f"  {name:22} {count}")
    first = engine.get_alerts(rule_name="High Error Rate")[0]
    print(f"first: {first.message} at {first.triggered_at.isoformat()}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "alerts.jsonl"
        engine.persist_alerts_to_file(path)
        rules = Path(tmp) / "rules.json"
        engine.save_alert_rules(rules)

        restarted = LogAnalyticsEngine()
        restarted.load_alert_rules(rules)
        report = restarted.load_alerts_from_file(path)
        print(f"restored {report['loaded']} alerts, {report['skipped']} corrupted lines, "
              f"state of {len(report.get('state_restored', []))} rules")


if __name__ == "__main__":
    main()
