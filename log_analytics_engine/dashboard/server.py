"""Run the dashboard with uvicorn in a background thread and hand back a handle."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import uvicorn

from .api import create_app
from .security import hosts_for

__all__ = ["DashboardServer", "serve"]

log = logging.getLogger(__name__)

_START_TIMEOUT = 15.0


class DashboardServer:
    """A running dashboard: ``url``, ``host``, ``port``; ``stop()`` frees the port.

    Use it as a context manager to stop it on exit. The socket is bound before the thread
    starts, so ``port=0`` gives a free port and ``port`` tells which one.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 8000) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((host, port))
            self._sock.listen(128)
        except OSError:
            self._sock.close()
            raise
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=3)
        self._server = uvicorn.Server(config)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"dashboard-{self.port}",
                                        daemon=True)
        self._stopped = False
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the dashboard did not start: {self._failure!r}")
            time.sleep(0.01)
        log.info("dashboard serving on %s", self.url)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported by __init__ or stop()
            self._failure = exc

    @property
    def url(self) -> str:
        """``http://host:port/`` with the real port."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopped

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, wait for the thread and close the socket (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()
        log.info("dashboard on port %d stopped", self.port)

    def __enter__(self) -> DashboardServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<DashboardServer {self.url} {state}>"


def serve(engine: Any, host: str = "127.0.0.1", port: int = 8000,
          token: str | None = None, allowed_hosts: Sequence[str] = ()) -> DashboardServer:
    """Serve ``engine``'s dashboard in a background thread; return at once with the handle.

    ``port=0`` picks a free port (see ``handle.port``/``handle.url``). With ``token`` every
    endpoint asks for ``Authorization: Bearer <token>`` (or ``?token=`` for the page).
    Requests must name a loopback host, ``host`` itself or one of ``allowed_hosts`` (``"*"``
    for any) in their ``Host`` header; others get 421 (DNS-rebinding protection).
    """
    app = create_app(engine, token=token, allowed_hosts=hosts_for(host, allowed_hosts))
    return DashboardServer(app, host, port)
