"""The HTTP service: translates HTTP to engine calls and back, nothing more (DESIGN §2, §8).

The bundle loads in a background thread at start-up; until it is ready, ``/ready`` and the API answer 503
with ``Retry-After`` rather than making the first caller wait. Every error is JSON
``{"error": ..., "detail": ...}`` with a 4xx/5xx status — a stack trace never reaches a client.
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
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from humanorai.batching import Overloaded
from humanorai.config import Settings
from humanorai.engine import Engine, Prediction
from humanorai.errors import InputError
from humanorai.members.context import TransformerRuntime
from humanorai.server.metrics import ServiceMetrics
from humanorai.server.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    ErrorResponse,
    PredictRequest,
    PredictResponse,
)

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
#: Below this many words a verdict is flagged as unreliable (the web page asks for at least this many).
MIN_RELIABLE_WORDS = 50
RETRY_AFTER_LOADING_S = 5
RETRY_AFTER_BUSY_S = 1
#: How often a request waiting for its micro-batch checks that its client is still connected.
DISCONNECT_POLL_S = 0.1
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (401, 413, 422, 429, 503)
}


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

    def __init__(self, bundle: Path, settings: Settings, runtime: TransformerRuntime,
                 metrics: ServiceMetrics) -> None:
        self._bundle = bundle
        self._settings = settings
        self._runtime = runtime
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
            engine = Engine.load(self._bundle, self._runtime, self._settings.engine, self._metrics)
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


def create_app(bundle: Path, settings: Settings | None = None, runtime: TransformerRuntime | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = ServiceMetrics()
    loader = EngineLoader(bundle, settings, runtime or TransformerRuntime(), metrics)
    admission = Admission(settings.max_concurrent_requests)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loader.start()
        yield
        loader.close()

    app = FastAPI(title="humanorai", version="0.1.0", lifespan=lifespan, redoc_url=None,
                  description="Tells whether an English text was written by a HUMAN (1) or an AI (0).")
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Content-Type", "X-API-Key"])
    _install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    def require_api_key(x_api_key: str | None = Header(default=None)) -> None:
        if settings.api_key is None:
            return
        if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), settings.api_key.encode()):
            raise ApiError(401, "missing or wrong API key: send it in the X-API-Key header")

    def check_text(text: str, label: str) -> None:
        if not text.strip():
            raise ApiError(422, f"{label} is empty or only whitespace")
        if len(text) > settings.max_text_chars:
            raise ApiError(413, f"{label} has {len(text)} characters; the limit is {settings.max_text_chars}")

    async def score(request: Request, texts: list[str], method: str | None) -> list[Prediction]:
        engine = loader.ready_engine()
        with admission:
            try:
                if engine.batching:
                    return await _unless_disconnected(request, engine.submit(texts, method), metrics)
                return await run_in_threadpool(engine.predict, texts, method)
            except Overloaded as error:
                raise ApiError(429, str(error), retry_after=RETRY_AFTER_BUSY_S) from error
            except InputError as error:
                raise ApiError(422, str(error)) from error

    @app.post("/predict", response_model=PredictResponse, responses=ERROR_RESPONSES,
              dependencies=[Depends(require_api_key)])
    async def predict(body: PredictRequest, request: Request) -> dict[str, Any]:
        """Classify one text: each model's verdict and the ensemble's (majority vote unless asked otherwise)."""
        check_text(body.text, "text")
        (prediction,) = await score(request, [body.text], body.ensemble)
        return _response(prediction, body.text)

    @app.post("/predict/batch", response_model=BatchPredictResponse, responses=ERROR_RESPONSES,
              dependencies=[Depends(require_api_key)])
    async def predict_batch(body: BatchPredictRequest, request: Request) -> dict[str, Any]:
        """Classify several texts in one call; results come back in the same order."""
        if not body.texts:
            raise ApiError(422, "texts is empty: send at least one text")
        if len(body.texts) > settings.max_batch_texts:
            raise ApiError(413, f"{len(body.texts)} texts; the limit per call is {settings.max_batch_texts}")
        for position, text in enumerate(body.texts):
            check_text(text, f"texts[{position}]")
        predictions = await score(request, body.texts, body.ensemble)
        return {"results": [_response(p, text) for p, text in zip(predictions, body.texts, strict=True)]}

    @app.get("/health")
    async def health() -> dict[str, str]:
        """The process is up (models may still be loading: see /ready)."""
        return {"status": "ok"}

    @app.get("/ready", responses={503: {"model": ErrorResponse}})
    async def ready() -> JSONResponse:
        """200 once the models are loaded, with how each runs; 503 while loading or if loading failed."""
        engine = loader.engine
        if engine is None:
            status = "failed" if loader.error else "loading"
            headers = {} if loader.error else {"Retry-After": str(RETRY_AFTER_LOADING_S)}
            return JSONResponse({"ready": False, "status": status, "error": loader.error}, 503, headers=headers)
        return JSONResponse({
            "ready": True, "status": "degraded" if engine.unavailable else "ok",
            "bundle": engine.manifest.bundle_id, "members": engine.describe_members(),
            "unavailable": engine.unavailable, "load_seconds": round(loader.load_seconds or 0.0, 2),
            "ensemble": {"default": engine.ensemble.default, "methods": list(engine.ensemble.methods)},
        })

    @app.get("/models", dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES)
    async def models() -> dict[str, Any]:
        """The bundle's manifest: members, files, thresholds and test metrics."""
        return loader.ready_engine().manifest.to_dict()

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' data:",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})

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


def _response(prediction: Prediction, text: str) -> dict[str, Any]:
    words = len(text.split())
    return {**prediction.to_dict(), "word_count": words, "low_reliability": words < MIN_RELIABLE_WORDS}


def _error(status: int, message: str, detail: object = None, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": message, "detail": detail}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return _error(error.status, error.message, error.detail, error.retry_after)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [_describe_problem(problem) for problem in error.errors()]
        return _error(422, "; ".join(problems), detail=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error while serving a request")
        return _error(500, "internal error; the server log has the details")


def _describe_problem(problem: dict[str, Any]) -> str:
    location = [str(part) for part in problem.get("loc", ()) if part != "body"]
    if problem.get("type") == "json_invalid":
        return "the body is not valid JSON"
    if not location:
        return 'the body must be a JSON object: send a JSON object like {"text": "..."}'
    where = ".".join(location) or "body"
    return f"{where}: {problem.get('msg', 'invalid')}"


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
