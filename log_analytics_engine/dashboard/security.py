"""Browser-facing safety of the dashboard: security headers on every answer and a Host
allow-list (so a DNS-rebinding page cannot read the logs through a victim's browser).

Both are plain ASGI middlewares, applied by :func:`~log_analytics_engine.dashboard.create_app`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

__all__ = ["LOOPBACK_HOSTS", "HostAllowList", "SecurityHeaders", "content_security_policy",
           "hosts_for", "security_headers"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The Host names accepted by default: loopback only.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_WILDCARD_BINDS = frozenset(("0.0.0.0", "::", ""))


def hosts_for(bind: str, extra: Iterable[str] | None = None) -> tuple[str, ...]:
    """The allowed Host names for a server bound to ``bind``: the loopback names, ``bind``
    itself when it is a concrete address, and ``extra`` (``"*"`` allows any)."""
    names = list(LOOPBACK_HOSTS)
    if bind not in _WILDCARD_BINDS and bind not in names:
        names.append(bind)
    names.extend(extra or ())
    return tuple(names)


def _inline_hash(html: str, tag: str) -> list[str]:
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
    return ["'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'"
            for b in blocks]


def content_security_policy(page: str) -> str:
    """A strict policy for ``page``: nothing but the page's own inline style and script (by
    their hashes) and requests to the same origin; no framing, no plugins, no forms elsewhere."""
    scripts = " ".join(_inline_hash(page, "script")) or "'none'"
    styles = " ".join(_inline_hash(page, "style")) or "'none'"
    return ("default-src 'none'; "
            f"script-src {scripts}; style-src {styles}; "
            "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


def security_headers(csp: str) -> list[tuple[bytes, bytes]]:
    """The headers every answer carries."""
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-resource-policy", b"same-origin"),
    ]


class SecurityHeaders:
    """Adds ``Content-Security-Policy``, ``X-Content-Type-Options: nosniff``,
    ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer`` and
    ``Cross-Origin-Resource-Policy: same-origin`` to every HTTP answer."""

    def __init__(self, app: App, csp: str) -> None:
        self.app = app
        self.headers = security_headers(csp)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HostAllowList:
    """Answers 421 (Misdirected Request) when the ``Host`` header names a host that is not
    allowed; ``"*"`` in ``hosts`` allows any. Ports are ignored."""

    def __init__(self, app: App, hosts: Iterable[str], headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.hosts = frozenset(h.strip("[]").lower() for h in hosts)
        self.any = "*" in self.hosts
        self.headers = headers

    def allowed(self, host_header: str) -> bool:
        if self.any:
            return True
        host = host_header.strip().lower()
        if host.startswith("["):  # [::1]:8000
            host = host[1:host.find("]")] if "]" in host else host
        elif host.count(":") == 1:
            host = host.split(":", 1)[0]
        return host in self.hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.any:
            await self.app(scope, receive, send)
            return
        host = ""
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = value.decode("latin-1")
                break
        if self.allowed(host):
            await self.app(scope, receive, send)
            return
        body = (b'{"error":"this Host is not allowed (DNS rebinding protection); '
                b'pass allowed_hosts to serve the dashboard under another name"}')
        await send({"type": "http.response.start", "status": 421, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()), *self.headers]})
        await send({"type": "http.response.body", "body": body})
