"""log_analytics_engine (work in progress)."""
