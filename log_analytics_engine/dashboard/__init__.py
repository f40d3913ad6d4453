"""The dashboard: a JSON API, a Prometheus endpoint and an HTML page (the ``dashboard`` extra).

>>> from log_analytics_engine import LogAnalyticsEngine
>>> from log_analytics_engine.dashboard import serve
>>> with serve(LogAnalyticsEngine(), port=0) as server:  # doctest: +SKIP
...     print(server.url)
http://127.0.0.1:54321/

``create_app(engine)`` returns the FastAPI application and ``create_router(engine)`` an
``APIRouter`` to mount inside your own application (``app.include_router(router,
prefix="/logs")``). Everything the page needs ships in ``dashboard/static/``.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the dashboard needs FastAPI and uvicorn: pip install 'log-analytics-engine[dashboard]'"
    ) from exc

from .api import MAX_PAGE_SIZE, create_app, create_router
from .server import DashboardServer, serve

__all__ = ["MAX_PAGE_SIZE", "DashboardServer", "create_app", "create_router", "serve"]
