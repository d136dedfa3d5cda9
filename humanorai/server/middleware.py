"""The service's ASGI middleware: limits at the edge, security headers, and request metrics.

Plain ASGI classes rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware hides the
client's disconnect from ``request.is_disconnected()``, which the scoring path relies on, and would read
bodies the edge limits must refuse unread.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from humanorai.server.error_handlers import error_response
from humanorai.server.prometheus import ServiceMetrics

#: On every answer: no MIME sniffing, never inside a frame (the page has an API-key field), no referrer.
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer")]
#: Key of ``scope["state"]`` holding when the request arrived (``time.monotonic()``), for its deadline.
ARRIVED = "arrived"


@dataclass(frozen=True)
class BodyLimit:
    """The most bytes a request body may have, and the setting that says so (named in the 413)."""

    max_bytes: int
    variable: str

    def message(self) -> str:
        return f"the request body is larger than the limit of {self.max_bytes} bytes ({self.variable})"


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` as soon as a body sent without a length passes the limit: reading stops."""

    def __init__(self, limit: BodyLimit) -> None:
        super().__init__(413, limit.message(), headers={"Connection": "close"})


class EdgeLimitsMiddleware:
    """Refuses what it can before the app reads a byte of the body: a missing or wrong API key on the
    routes that need one (401) and a declared ``Content-Length`` over the limit (413). A body sent without
    a length is counted as it arrives and refused at the limit. Notes each request's arrival time.

    File uploads (``upload_paths``) have a limit of their own: a document may be larger than any JSON body."""

    def __init__(self, app: ASGIApp, guarded_paths: frozenset[str], api_key: str | None,
                 body_limit: BodyLimit, upload_paths: frozenset[str], upload_limit: BodyLimit) -> None:
        self._app = app
        self._guarded_paths = guarded_paths
        self._api_key = api_key
        self._body_limit = body_limit
        self._upload_paths = upload_paths
        self._upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        scope.setdefault("state", {})[ARRIVED] = time.monotonic()
        limit = self._upload_limit if scope["path"] in self._upload_paths else self._body_limit
        refusal = self._refusal(scope, Headers(scope=scope), limit)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    raise BodyTooLarge(limit)
            return message

        await self._app(scope, receive_within_limit, send)

    def _refusal(self, scope: Scope, headers: Headers, limit: BodyLimit) -> Response | None:
        # A CORS preflight carries no key by design; the CORS middleware outside this one answers it.
        if self._api_key is not None and scope["path"] in self._guarded_paths and scope["method"] != "OPTIONS":
            supplied = headers.get("x-api-key")
            if supplied is None or not hmac.compare_digest(supplied.encode(), self._api_key.encode()):
                return error_response(401, "missing or wrong API key: send it in the X-API-Key header")
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit.max_bytes:
            return error_response(413, limit.message(), headers={"Connection": "close"})
        return None


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every HTTP answer, errors and static files included."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self._app(scope, receive, send_with_headers)


class MetricsMiddleware:
    """Counts requests and their latency by route and status.

    A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware hides
    the client's disconnect from ``request.is_disconnected()``, which the batching path relies on.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_and_note_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self._metrics.requests.labels(route=path, status=str(status)).inc()
            self._metrics.latency.labels(route=path).observe(time.perf_counter() - started)
