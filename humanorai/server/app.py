"""The HTTP service: translates HTTP to engine calls and back, nothing more.

Routes live on a module-level router and reach the service's parts (engine loader, limits, metrics)
through one dependency; errors become JSON ``{"error": ..., "detail": ...}`` by exception handlers keyed by
class — a stack trace never reaches a client. The bundle loads in a background thread at start-up; until
it is ready, ``/ready`` and the API answer 503 with ``Retry-After`` rather than making the first caller wait.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from humanorai.errors import InputError
from humanorai.scoring.batching import Overloaded
from humanorai.scoring.engine import Engine, Prediction
from humanorai.server.prometheus import ServiceMetrics
from humanorai.server.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    ErrorResponse,
    PredictRequest,
    PredictResponse,
)
from humanorai.settings import ServiceSettings, TransformerSettings
from humanorai.text import unencodable

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
RETRY_AFTER_LOADING_S = 5
RETRY_AFTER_BUSY_S = 1
#: How often a request waiting for its micro-batch checks that its client is still connected.
DISCONNECT_POLL_S = 0.1
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (401, 413, 422, 429, 503)
}
#: On every answer: no MIME sniffing, never inside a frame (the page has an API-key field), no referrer.
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer")]
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' data:; "
                                           "frame-ancestors 'none'"}


class ApiError(Exception):
    """An expected failure with its HTTP status and a message the client can act on."""

    def __init__(self, status: int, message: str, retry_after: int | None = None, detail: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.detail = detail


class EngineLoader:
    """Loads the engine in a background thread and tells, at any moment, whether it is ready."""

    def __init__(self, bundle: Path, settings: ServiceSettings, transformers: TransformerSettings,
                 metrics: ServiceMetrics) -> None:
        self._bundle = bundle
        self._settings = settings
        self._transformers = transformers
        self._metrics = metrics
        self.engine: Engine | None = None
        self.error: str | None = None
        self.load_seconds: float | None = None
        self._thread = threading.Thread(target=self._load, name="humanorai-loader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            engine = Engine.load(self._bundle, self._transformers, self._settings.engine, self._metrics)
        except Exception as error:  # reported by /ready; the process stays up to say so
            logger.error("could not load the bundle %s: %s", self._bundle, error)
            self.error = str(error)
            return
        self._metrics.watch_queue(lambda: engine.queued_texts)
        self.load_seconds = time.perf_counter() - started
        self.engine = engine
        logger.info("ready in %.1f s: %s", self.load_seconds, engine.describe_members())

    def ready_engine(self) -> Engine:
        if self.engine is not None:
            return self.engine
        if self.error is not None:
            raise ApiError(503, f"the model bundle failed to load: {self.error}")
        raise ApiError(503, "models are still loading; retry shortly", retry_after=RETRY_AFTER_LOADING_S)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


class Admission:
    """Bounds how many requests are scored at once; the rest are told to come back (429)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._in_flight = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            if self._in_flight >= self._limit:
                raise ApiError(429, f"server busy: {self._in_flight} requests in progress; retry shortly",
                               retry_after=RETRY_AFTER_BUSY_S)
            self._in_flight += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._in_flight -= 1


@dataclass(frozen=True)
class Service:
    """The parts of one app that its routes use, kept on ``app.state.service``."""

    settings: ServiceSettings
    loader: EngineLoader
    admission: Admission
    metrics: ServiceMetrics

    def check_text(self, text: str, label: str) -> None:
        if not text.strip():
            raise ApiError(422, f"{label} is empty or only whitespace")
        if len(text) > self.settings.max_text_chars:
            raise ApiError(413, f"{label} has {len(text)} characters; the limit is {self.settings.max_text_chars}")
        problem = unencodable(text)
        if problem:
            raise ApiError(422, f"{label} {problem}")

    async def score(self, request: Request, texts: list[str], method: str | None,
                    point: str | None) -> list[Prediction]:
        engine = self.loader.ready_engine()
        with self.admission:
            if engine.batching:
                return await _unless_disconnected(request, engine.submit(texts, method, point), self.metrics)
            return await run_in_threadpool(engine.predict, texts, method, point)


def service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def require_api_key(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> None:
    expected = service(request).settings.api_key
    if expected is None:
        return
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        raise ApiError(401, "missing or wrong API key: send it in the X-API-Key header")


ServiceDependency = Annotated[Service, Depends(service)]
api = APIRouter(dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES)
public = APIRouter()


@api.post("/predict", response_model=PredictResponse)
async def predict(body: PredictRequest, request: Request, parts: ServiceDependency) -> PredictResponse:
    """Classify one text: each model's verdict and the ensemble's (the bundle's method unless asked otherwise)."""
    parts.check_text(body.text, "text")
    (prediction,) = await parts.score(request, [body.text], body.ensemble, body.operating_point)
    return PredictResponse.of(prediction, body.text)


@api.post("/predict/batch", response_model=BatchPredictResponse)
async def predict_batch(body: BatchPredictRequest, request: Request, parts: ServiceDependency) -> BatchPredictResponse:
    """Classify several texts in one call; results come back in the same order."""
    limit = parts.settings.max_texts_per_request
    if len(body.texts) > limit:
        raise ApiError(413, f"{len(body.texts)} texts; the limit per call is {limit}")
    for position, text in enumerate(body.texts):
        parts.check_text(text, f"texts[{position}]")
    predictions = await parts.score(request, body.texts, body.ensemble, body.operating_point)
    return BatchPredictResponse(results=[PredictResponse.of(prediction, text)
                                         for prediction, text in zip(predictions, body.texts, strict=True)])


@api.get("/models")
async def models(parts: ServiceDependency) -> dict[str, Any]:
    """The bundle's manifest: members, files, thresholds and test metrics."""
    return parts.loader.ready_engine().manifest.to_dict()


@public.api_route("/health", methods=["GET", "HEAD"])
async def health() -> dict[str, str]:
    """The process is up (models may still be loading: see /ready)."""
    return {"status": "ok"}


@public.get("/ready", responses={503: {"model": ErrorResponse}})
async def ready(parts: ServiceDependency) -> JSONResponse:
    """200 once the models are loaded, with how each runs; 503 while loading or if loading failed."""
    loader = parts.loader
    engine = loader.engine
    if engine is None:
        status = "failed" if loader.error else "loading"
        headers = {} if loader.error else {"Retry-After": str(RETRY_AFTER_LOADING_S)}
        return JSONResponse({"ready": False, "status": status, "error": loader.error}, 503, headers=headers)
    return JSONResponse({
        "ready": True, "status": "degraded" if engine.unavailable else "ok",
        "bundle": engine.manifest.bundle_id, "members": engine.describe_members(),
        "unavailable": engine.unavailable, "load_seconds": round(loader.load_seconds or 0.0, 2),
        "ensemble": {"default": engine.ensemble.default, "methods": list(engine.ensemble.methods),
                     "operating_points": list(engine.ensemble.operating_points)},
    })


@public.get("/metrics", include_in_schema=False)
async def prometheus(parts: ServiceDependency) -> Response:
    return Response(parts.metrics.render(), media_type="text/plain; version=0.0.4")


@public.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)


def create_app(bundle: Path, settings: ServiceSettings | None = None,
               transformers: TransformerSettings | None = None) -> FastAPI:
    """The service for ``bundle``: routes, error handlers, metrics, and the engine loading in the background."""
    settings = settings or ServiceSettings()
    metrics = ServiceMetrics()
    loader = EngineLoader(bundle, settings, transformers or TransformerSettings(), metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loader.start()
        yield
        loader.close()

    # /docs serves Swagger UI from the fastapi-offline package's own files: no CDN.
    app = FastAPIOffline(title="humanorai", version="0.1.0", lifespan=lifespan, redoc_url=None,
                         description="Tells whether an English text was written by a HUMAN (1) or an AI (0).")
    app.state.service = Service(settings, loader, Admission(settings.max_concurrent_requests), metrics)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Content-Type", "X-API-Key"])
    for error_class, handler in ERROR_HANDLERS.items():
        app.add_exception_handler(error_class, handler)  # type: ignore[arg-type]
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeadersMiddleware)
    app.include_router(api)
    app.include_router(public)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


async def _unless_disconnected(request: Request, queued: Future[list[Prediction]],
                               metrics: ServiceMetrics) -> list[Prediction]:
    """Wait for a queued batch result; if the client goes away first, cancel it so it costs no compute."""
    waiting = asyncio.wrap_future(queued)
    while True:
        done, _ = await asyncio.wait({waiting}, timeout=DISCONNECT_POLL_S)
        if done:
            return waiting.result()
        if await request.is_disconnected():
            queued.cancel()
            metrics.dropped.inc()
            raise ApiError(499, "the client closed the connection before its answer was ready")


def _error(status: int, message: str, detail: object = None, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": message, "detail": detail}, status_code=status, headers=headers)


async def _api_error(_: Request, error: ApiError) -> JSONResponse:
    return _error(error.status, error.message, error.detail, error.retry_after)


async def _overloaded(_: Request, error: Overloaded) -> JSONResponse:
    return _error(429, str(error), retry_after=RETRY_AFTER_BUSY_S)


async def _input_error(_: Request, error: InputError) -> JSONResponse:
    return _error(422, str(error))


async def _invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
    problems = [_describe_problem(problem) for problem in error.errors()]
    return _error(422, "; ".join(problems), detail=problems)


async def _http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
    response = _error(error.status_code, str(error.detail))
    response.headers.update(error.headers or {})  # e.g. Allow on a 405
    return response


async def _unexpected(_: Request, error: Exception) -> JSONResponse:
    logger.exception("unexpected error while serving a request", exc_info=error)
    return _error(500, "internal error; the server log has the details")


#: Exception class → its JSON answer.
ERROR_HANDLERS = {ApiError: _api_error, Overloaded: _overloaded, InputError: _input_error,
                  RequestValidationError: _invalid_request, StarletteHTTPException: _http_error,
                  Exception: _unexpected}


def _describe_problem(problem: dict[str, Any]) -> str:
    location = [str(part) for part in problem.get("loc", ()) if part != "body"]
    if problem.get("type") == "json_invalid":
        return "the body is not valid JSON"
    if not location:
        return 'the body must be a JSON object: send a JSON object like {"text": "..."}'
    where = ".".join(location) or "body"
    return f"{where}: {problem.get('msg', 'invalid')}"


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
