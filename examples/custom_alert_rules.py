"""Custom alert rules: fire when 3 ERROR entries of one rule fall in 2 minutes."""

from log_analytics_engine import AlertRule, AlertSeverity, LogAnalyticsEngine, LogEntry

engine = LogAnalyticsEngine()
rule = AlertRule(
    name="High Error Rate",
    description="3+ ERROR logs in 2 minutes",
    conditions={"level": "ERROR"},
    severity=AlertSeverity.HIGH,
    threshold=3,
    time_window=120,
    cooldown=60,
)
engine.add_alert_rule(rule)
received = []
engine.add_alert_notification_hook(received.append)

for second in (0, 30, 50, 70, 200):
    engine.ingest_log(LogEntry(1_753_092_000 + second, "ERROR", "upstream timeout", source="api"))

for alert in engine.get_alerts():
    print(alert.triggered_at.isoformat(), alert.severity.value, alert.message)
assert len(received) == len(engine.get_alerts()) >= 1
