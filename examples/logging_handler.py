"""Make an application's own logs queryable with the standard ``logging`` module.

Run: python examples/logging_handler.py
"""

from __future__ import annotations

import logging

from log_analytics_engine import LogAnalyticsEngine, LogAnalyticsHandler


def main() -> None:
    engine = LogAnalyticsEngine()
    # non_blocking=True: the application thread only enqueues; a background thread ingests.
    handler = LogAnalyticsHandler(engine, logging.INFO, non_blocking=True)
    app = logging.getLogger("shop")
    app.setLevel(logging.INFO)
    app.addHandler(handler)

    for order in range(1, 6):
        app.info("order %d placed", order, extra={"order_id": order, "amount": order * 9.5})
    app.warning("payment slow", extra={"latency_ms": 870})
    try:
        1 / 0  # noqa: B018 - an error to log
    except ZeroDivisionError:
        app.exception("checkout crashed", extra={"order_id": 5})

    handler.flush()  # wait until the background thread has ingested everything
    print("entries:", len(engine))
    for entry in engine.search("level:ERROR OR latency_ms:>500"):
        print(f"  {entry.level:<5} {entry.source} {entry.message} {entry.metadata.get('order_id')}")
    crash = engine.search('"checkout crashed"')[0]
    print("traceback ends with:", crash.metadata["exc_info"].splitlines()[-1])
    print("big orders:", [e.metadata["order_id"] for e in engine.search("amount:>=30")])

    app.removeHandler(handler)
    handler.close()  # stops the background thread
    print("dropped:", handler.dropped)


if __name__ == "__main__":
    main()
