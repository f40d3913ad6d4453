"""The HTTP API and the page: a FastAPI router over one engine.

Every handler is a few lines delegating to the engine's public methods. Bad requests get a
``400`` JSON body ``{"error", "field", "value"}``; a wrong or missing token gets ``401``.
Handlers are plain functions: FastAPI runs them in its thread pool, so a slow query never
blocks the event loop, and the engine's lock keeps readers consistent with ingestion.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import threading
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from .. import _native as native
from ..errors import InvalidFilterError, LogAnalyticsError, QueryTimeoutError
from ..metrics.exposition import CONTENT_TYPE
from ..model.entry import LEVELS, LogEntry
from ..model.timeparse import format_datetime, format_instant
from ..query.aggregate import bucket_start, parse_interval
from ..query.filters import compile_filters, time_bounds
from ..query.language import parse_query
from ..query.nodes import MatchAll
from ..query.residual import Deadline
from ..storage.codec import dumps
from .params import MAX_PAGE_SIZE, parse_int, parse_log_query
from .security import (
    LOOPBACK_HOSTS,
    HostAllowList,
    SecurityHeaders,
    content_security_policy,
    security_headers,
)

__all__ = ["MAX_PAGE_SIZE", "create_app", "create_router"]

MAX_BUCKETS = 2000
MAX_TRACES = 1000
#: The page's icon: a bar chart in the page's colours, as a tiny SVG.
FAVICON_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<rect width="16" height="16" rx="3" fill="#171e2e"/>'
    b'<rect x="3" y="8" width="2" height="5" fill="#3fae72"/>'
    b'<rect x="7" y="5" width="2" height="8" fill="#5aa9ff"/>'
    b'<rect x="11" y="3" width="2" height="10" fill="#e5534b"/></svg>'
)
try:
    _VERSION = version("log-analytics-engine")
except PackageNotFoundError:  # pragma: no cover - not installed
    _VERSION = "0.0.0"
#: Seconds a log query of the dashboard may run before it answers 503.
QUERY_TIMEOUT = 2.0


def _json(data: Any, status: int = 200) -> Response:
    body = dumps(data)
    return Response(body, status_code=status, media_type="application/json")


def _bad_request(exc: Exception) -> JSONResponse:
    body: dict[str, Any] = {"error": str(exc)}
    if isinstance(exc, InvalidFilterError):
        body.update(field=exc.key, value=str(exc.value), reason=exc.reason)
    return JSONResponse(body, status_code=400)


class _GuardedRoute(APIRoute):
    """A route whose value errors become a 400 JSON answer (this travels with the router)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except QueryTimeoutError as exc:
                return JSONResponse({"error": str(exc), "reason": exc.reason}, status_code=503,
                                    headers={"Retry-After": "5"})
            except (LogAnalyticsError, ValueError, TypeError) as exc:
                return _bad_request(exc)

        return guarded


async def run_cancellable(request: Any, deadline: Deadline, work: Callable[[], Response],
                          poll: float = 0.1) -> Response:
    """Run ``work`` in a worker thread; while it runs, look every ``poll`` seconds whether the
    client went away and if so set ``deadline.cancel`` (the query stops between entries)."""
    task = asyncio.ensure_future(run_in_threadpool(work))
    while True:
        done, _ = await asyncio.wait({task}, timeout=poll)
        if done:
            return task.result()
        if deadline.cancel is not None and await request.is_disconnected():
            deadline.cancel.set()


def _auth_dependency(token: str) -> Callable[[Request], None]:
    expected = token.encode()

    def check_token(request: Request) -> None:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            given = header[7:].strip()
        else:
            given = request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode(), expected):
            raise HTTPException(401, detail="missing or wrong bearer token",
                                headers={"WWW-Authenticate": "Bearer"})

    return check_token


def _entry_dict(entry: LogEntry) -> dict[str, Any]:
    data = entry.to_dict()
    data["time"] = format_instant(entry.ts)
    return data


def _alert_dict(alert: Any) -> dict[str, Any]:
    return {
        "rule_name": alert.rule_name,
        "message": alert.message,
        "severity": getattr(alert.severity, "value", str(alert.severity)),
        "triggered_at": format_datetime(alert.triggered_at),
        "count": alert.count,
        "metadata": alert.metadata,
        "sample_logs": [e.summary(120) for e in alert.sample_logs],
    }


def _page_html() -> str:
    static = resources.files(__package__).joinpath("static")
    html = static.joinpath("index.html").read_text("utf-8")
    css = static.joinpath("style.css").read_text("utf-8")
    js = static.joinpath("app.js").read_text("utf-8")
    return html.replace("/*{{style}}*/", css).replace("/*{{script}}*/", js)


def _time_param(key: str, value: str) -> float:
    try:
        return time_bounds(float(value), key)
    except ValueError:
        return time_bounds(value, key)


def create_router(engine: Any, token: str | None = None, *,
                  query_timeout: float = QUERY_TIMEOUT) -> APIRouter:
    """An ``APIRouter`` with every dashboard route, for ``app.include_router(...)``.

    With ``token`` every route requires ``Authorization: Bearer <token>`` (or ``?token=``).
    Log queries stop after ``query_timeout`` seconds (503 with the reason).
    """
    deps = [Depends(_auth_dependency(token))] if token else []
    router = APIRouter(route_class=_GuardedRoute, dependencies=deps)
    page = _page_html()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @router.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        """A tiny SVG icon (browsers ask for it on every page)."""
        return Response(FAVICON_SVG, media_type="image/svg+xml",
                        headers={"Cache-Control": "max-age=86400"})

    @router.get("/stats")
    def stats() -> Response:
        """Processor stats: ``{name: {"processed", "errors", "avg_time_ms"}}``."""
        return _json(engine.processor_stats())

    @router.get("/trace")
    def trace(limit: str | None = None) -> Response:
        """The last ``limit`` (default 100) traces, oldest first."""
        return _json(engine.get_traces(parse_int("limit", limit, 100, 0, MAX_TRACES)))

    @router.get("/errors")
    def errors() -> Response:
        """``{processor: error_count}``."""
        return _json(engine.processor_errors())

    @router.get("/metrics")
    def metrics() -> Response:
        """Prometheus text exposition format 0.0.4."""
        return Response(engine.export_metrics_prometheus(), media_type=CONTENT_TYPE)

    @router.get("/api/summary")
    def summary() -> Response:
        """The engine's statistics (``engine.get_stats()``), the package version and whether
        the C accelerator is active (``"accelerator": true``)."""
        return _json({**engine.get_stats(), "version": _VERSION,
                      "accelerator": native.available})

    @router.get("/api/processors")
    def processors() -> Response:
        """Every processor with all its counters, in running order."""
        return _json(engine.processor_details())

    @router.get("/api/processor-errors")
    def processor_errors(limit: str | None = None) -> Response:
        """The last processor exceptions, newest first."""
        n = parse_int("limit", limit, 50, 0, 1000)
        return _json(list(reversed(engine.recent_processor_errors(n))))

    @router.get("/api/alerts")
    def alerts(limit: str | None = None) -> Response:
        """Alerts fired so far, newest first."""
        n = parse_int("limit", limit, 50, 0, 10_000)
        fired = engine.get_alerts()
        return _json([_alert_dict(a) for a in reversed(fired[len(fired) - n:] if n else [])])

    def logs_page(params: list[tuple[str, str]], deadline: Deadline) -> Response:
        lq = parse_log_query(params)
        node = compile_filters(lq.filters)
        mode = None
        if lq.q is not None:
            mode, compiled = "search", parse_query(lq.q)
            node = compiled if isinstance(node, MatchAll) else node & compiled
        # "no entry has field 'levle'; did you mean 'level'?", shown by the page
        notes = [str(w) for w in engine.unknown_fields(node)]
        total = engine.count_logs(node, timeout=deadline)
        # the HTTP API counts pages from 1 (?page=1 is the first), query_logs from 0
        items = engine.query_logs(node, lq.sort_by, lq.descending, lq.page - 1, lq.page_size,
                                  timeout=deadline)
        return _json({
            "total": total, "page": lq.page, "page_size": lq.page_size,
            "pages": math.ceil(total / lq.page_size), "q": lq.q, "q_mode": mode,
            "warnings": notes, "items": [_entry_dict(e) for e in items],
        })

    @router.get("/api/logs")
    async def logs(request: Request) -> Response:
        """Entries matching the filters in the query string, newest first, one page.

        The query runs in a worker thread; it stops past ``query_timeout`` (503) or as soon
        as the client goes away."""
        deadline = Deadline(query_timeout, threading.Event())
        params = request.query_params.multi_items()
        return await run_cancellable(request, deadline, partial(logs_page, params, deadline))

    @router.get("/api/histogram")
    def histogram(interval: str = "1m", buckets: str | None = None,
                  start_time: str | None = None, end_time: str | None = None) -> Response:
        """Counts per level per time bucket (event time), the last ``buckets`` (default 60)."""
        seconds = parse_interval(interval)
        count = parse_int("buckets", buckets, 60, 1, MAX_BUCKETS)
        newest = engine.query_logs(sort_desc=True, page_size=1)
        out: dict[str, Any] = {"interval": interval, "seconds": seconds, "levels": [],
                               "buckets": []}
        if not newest:
            return _json(out)
        newest_ts = newest[0].ts
        hi = newest_ts if end_time is None else _time_param("end_time", end_time)
        last = bucket_start(hi, seconds)
        if start_time is None:
            lo = last - (count - 1) * seconds
        else:
            lo = bucket_start(_time_param("start_time", start_time), seconds)
        n_buckets = round((last - lo) / seconds) + 1
        if n_buckets < 1:
            raise InvalidFilterError("start_time", start_time, "after end_time")
        if n_buckets > MAX_BUCKETS:
            raise InvalidFilterError("start_time", start_time,
                                     f"more than {MAX_BUCKETS} buckets; use a larger interval")
        filters = {"start_time": lo, "end_time": hi}
        agg = engine.aggregate(filters, group_by="level", interval=seconds)
        counts: dict[str, dict[str, int]] = {}
        for (start, level), metrics in agg.items():
            counts.setdefault(start, {})[level] = metrics["count"]
        seen = {lv for per in counts.values() for lv in per}
        out["levels"] = [lv for lv in LEVELS if lv in seen]
        out["buckets"] = [
            {"start": (s := format_instant(lo + k * seconds)), "counts": counts.get(s, {})}
            for k in range(max(n_buckets, 0))
        ]
        return _json(out)

    return router


def create_app(engine: Any, token: str | None = None, *,
               allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
               query_timeout: float = QUERY_TIMEOUT) -> FastAPI:
    """The dashboard as an ASGI application (FastAPI; no docs pages: they would load a CDN).

    Every answer carries security headers (a strict ``Content-Security-Policy``,
    ``nosniff``, ``X-Frame-Options: DENY``); a request whose ``Host`` is not in
    ``allowed_hosts`` (loopback names by default, ``"*"`` for any) gets 421, so a
    DNS-rebinding page cannot read the logs. Log queries give up after ``query_timeout``
    seconds with 503 and a reason.
    """
    app = FastAPI(title="log_analytics_engine dashboard", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.include_router(create_router(engine, token, query_timeout=query_timeout))
    csp = content_security_policy(_page_html())
    app.add_middleware(SecurityHeaders, csp=csp)  # the last added runs first
    app.add_middleware(HostAllowList, hosts=allowed_hosts, headers=security_headers(csp))
    return app
