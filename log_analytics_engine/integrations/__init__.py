"""Bridges to the Python ecosystem: ``logging``, structlog, Prometheus and pandas.

Only :mod:`.logging_handler` is imported eagerly (it needs nothing but the standard library);
the others import their optional dependency when used.
"""

from .logging_handler import LogAnalyticsHandler

__all__ = ["LogAnalyticsHandler"]
