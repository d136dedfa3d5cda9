"""The HTTP service: translates HTTP to engine calls and back, nothing more.

Routes live on a module-level router and reach the service's parts (engine loader, limits, metrics)
through one dependency; errors become JSON ``{"error": ..., "detail": ...}`` (:mod:`.error_handlers`).
The bundle loads in a background thread at start-up; until it is ready, ``/ready`` and the API answer 503
with ``Retry-After`` rather than making the first caller wait. Work per request is bounded three ways: its
cost in token positions (413), its deadline (504), and its client (gone: the scoring stops).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, Response, Security, UploadFile
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from humanorai.scoring.engine import Engine, Prediction
from humanorai.server.error_handlers import ERROR_HANDLERS, RETRY_AFTER_BUSY_S, ApiError
from humanorai.server.middleware import (
    ARRIVED,
    BodyLimit,
    EdgeLimitsMiddleware,
    MetricsMiddleware,
    SecurityHeadersMiddleware,
)
from humanorai.server.prometheus import ServiceMetrics
from humanorai.server.schemas import (
    ENSEMBLE_DESCRIPTION,
    OPERATING_POINT_DESCRIPTION,
    SEGMENTS_DESCRIPTION,
    BatchPredictRequest,
    BatchPredictResponse,
    DocumentResult,
    ErrorResponse,
    FilePredictResponse,
    PredictRequest,
    PredictResponse,
)
from humanorai.server.uploads import ACCEPTED, FORM_FRAMING_BYTES, extract
from humanorai.settings import EnsembleMethod, OperatingPoint, ServiceSettings, TransformerSettings
from humanorai.text import unencodable

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
RETRY_AFTER_LOADING_S = 5
#: How often a request waiting for its answer checks that its client is still connected.
DISCONNECT_POLL_S = 0.1
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 413, 422, 429, 503, 504)
}
#: JSON Schema pattern of a text with a character that is not whitespace by Python's rule (``str.isspace``,
#: what the route's emptiness check uses); JSON Schema's ``\s`` differs (U+0085, U+001C–U+001F, U+FEFF), so
#: the class is spelled out.
NOT_BLANK = "[^" + "".join(f"\\u{code:04x}" for code in range(0x10000) if chr(code).isspace()) + "]"
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' data:; "
                                           "frame-ancestors 'none'"}
#: The routes that take a file, whose bodies have the upload limit (HUMANORAI_MAX_UPLOAD_BYTES).
UPLOAD_PATHS = frozenset({"/predict/file", "/extract"})
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {415: {"model": ErrorResponse}}
FILE_DESCRIPTION = f"A document: {ACCEPTED}. Its format comes from its name, else its media type."
#: Declares the key in the OpenAPI schema; the check itself runs in :class:`EdgeLimitsMiddleware`, before
#: the body is read.
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="Needed when the server sets HUMANORAI_API_KEY.")


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

    async def extract(self, upload: UploadFile) -> DocumentResult:
        """The text of an uploaded document; reading one counts against the admission limit like scoring."""
        with self.admission:
            return await extract(upload, self.settings.max_upload_bytes)

    async def score(self, request: Request, texts: list[str], method: str | None, point: str | None,
                    segments: bool) -> list[Prediction]:
        """Refuse a request that would cost too much, then wait for its answer until its deadline or
        until its client goes; in both cases its scoring stops at the next step."""
        engine = self.loader.ready_engine()
        with self.admission:
            limit = self.settings.max_request_tokens
            cost = await run_in_threadpool(engine.cost_over, texts, limit, segments)
            if cost is not None:
                raise ApiError(413, f"this request would run {cost} token positions through the models (windows "
                                    f"x tokens, every member summed); the limit is {limit} "
                                    "(HUMANORAI_MAX_REQUEST_TOKENS): send shorter texts or fewer per call",
                               detail={"cost": cost, "limit": limit})
            arrived = request.scope.get("state", {}).get(ARRIVED, time.monotonic())
            # Off the event loop: normalising a long text, or cutting it into many segments, takes a while.
            queued = await run_in_threadpool(engine.submit, texts, method, point, segments)
            return await self._answer(request, queued, arrived + self.settings.request_timeout_s)

    async def _answer(self, request: Request, queued: Future[list[Prediction]],
                      deadline: float) -> list[Prediction]:
        waiting = asyncio.wrap_future(queued)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                queued.cancel()
                self.metrics.dropped.labels(reason="deadline").inc()
                raise ApiError(504, f"no answer within {self.settings.request_timeout_s:g} s "
                                    "(HUMANORAI_REQUEST_TIMEOUT_S); its scoring was stopped")
            done, _ = await asyncio.wait({waiting}, timeout=min(DISCONNECT_POLL_S, remaining))
            if done:
                return waiting.result()
            if await request.is_disconnected():
                queued.cancel()
                self.metrics.dropped.labels(reason="disconnected").inc()
                raise ApiError(499, "the client closed the connection before its answer was ready")


def service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


ServiceDependency = Annotated[Service, Depends(service)]
api = APIRouter(responses=ERROR_RESPONSES)
public = APIRouter()


@api.post("/predict", response_model=PredictResponse)
async def predict(body: PredictRequest, request: Request, parts: ServiceDependency) -> PredictResponse:
    """Classify one text: each model's verdict and the ensemble's (the bundle's method unless asked otherwise),
    and with ``segments`` the score of each of its segments."""
    parts.check_text(body.text, "text")
    (prediction,) = await parts.score(request, [body.text], body.ensemble, body.operating_point, body.segments)
    return PredictResponse.of(prediction, body.text)


@api.post("/predict/batch", response_model=BatchPredictResponse)
async def predict_batch(body: BatchPredictRequest, request: Request, parts: ServiceDependency) -> BatchPredictResponse:
    """Classify several texts in one call; results come back in the same order."""
    limit = parts.settings.max_texts_per_request
    if len(body.texts) > limit:
        raise ApiError(413, f"{len(body.texts)} texts; the limit per call is {limit}")
    for position, text in enumerate(body.texts):
        parts.check_text(text, f"texts[{position}]")
    predictions = await parts.score(request, body.texts, body.ensemble, body.operating_point, body.segments)
    return BatchPredictResponse(results=[PredictResponse.of(prediction, text)
                                         for prediction, text in zip(predictions, body.texts, strict=True)])


@api.post("/predict/file", response_model=FilePredictResponse, responses=UPLOAD_RESPONSES)
async def predict_file(
    file: Annotated[UploadFile, File(description=FILE_DESCRIPTION)], request: Request, parts: ServiceDependency,
    ensemble: Annotated[EnsembleMethod | None, Form(description=ENSEMBLE_DESCRIPTION)] = None,
    operating_point: Annotated[OperatingPoint | None, Form(description=OPERATING_POINT_DESCRIPTION)] = None,
    segments: Annotated[bool, Form(description=SEGMENTS_DESCRIPTION)] = False,
) -> FilePredictResponse:
    """Classify a PDF (its text layer), DOCX or TXT file sent as multipart/form-data, as ``/predict`` would
    classify its text; the answer includes that text, which segment offsets index into."""
    document = await parts.extract(file)
    parts.check_text(document.text, f"the text of {document.filename}")
    (prediction,) = await parts.score(request, [document.text], ensemble, operating_point, segments)
    return FilePredictResponse.of_document(prediction, document)


@api.post("/extract", response_model=DocumentResult, responses=UPLOAD_RESPONSES)
async def extract_text(file: Annotated[UploadFile, File(description=FILE_DESCRIPTION)],
                       parts: ServiceDependency) -> DocumentResult:
    """The text of a PDF, DOCX or TXT file, not scored: the page shows it, editable, before checking it."""
    return await parts.extract(file)


@api.get("/models")
async def models(parts: ServiceDependency) -> dict[str, Any]:
    """The bundle's manifest: members, files, thresholds and test metrics."""
    return parts.loader.ready_engine().manifest.to_dict()


@public.head("/health", include_in_schema=False)  # HEAD works; the schema documents GET alone (one id)
@public.get("/health")  # registered first, so a 405's Allow names the documented method
async def health() -> dict[str, str]:
    """The process is up (models may still be loading: see /ready)."""
    return {"status": "ok"}


@public.get("/ready", responses={503: {"model": ErrorResponse}})
async def ready(parts: ServiceDependency) -> JSONResponse:
    """200 once the models are loaded, with how each runs; 503 while loading or if loading failed. Both say
    the request deadline, so a client (the page) knows when a silent server is stuck rather than busy."""
    loader = parts.loader
    engine = loader.engine
    deadline = parts.settings.request_timeout_s
    if engine is None:
        status = "failed" if loader.error else "loading"
        headers = {} if loader.error else {"Retry-After": str(RETRY_AFTER_LOADING_S)}
        return JSONResponse({"ready": False, "status": status, "error": loader.error, "request_timeout_s": deadline},
                            503, headers=headers)
    return JSONResponse({
        "ready": True, "status": "degraded" if engine.unavailable else "ok", "request_timeout_s": deadline,
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
    # Outermost last: security headers on every answer, then metrics, CORS, and the edge limits.
    guarded = frozenset(route.path for route in api.routes if isinstance(route, APIRoute))
    app.add_middleware(EdgeLimitsMiddleware, guarded_paths=guarded, api_key=settings.api_key,
                       body_limit=BodyLimit(settings.max_body_bytes, "HUMANORAI_MAX_BODY_BYTES"),
                       upload_paths=UPLOAD_PATHS,
                       upload_limit=BodyLimit(settings.max_upload_bytes + FORM_FRAMING_BYTES,
                                              "HUMANORAI_MAX_UPLOAD_BYTES, plus the form's framing"))
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Content-Type", "X-API-Key"])
    for error_class, handler in ERROR_HANDLERS.items():
        app.add_exception_handler(error_class, handler)  # type: ignore[arg-type]
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeadersMiddleware)
    # The key is in the schema only where the server asks for one.
    app.include_router(api, dependencies=[Security(API_KEY_HEADER)] if settings.api_key else [])
    app.include_router(public)
    app.openapi = _openapi_with_limits(app, settings)  # type: ignore[method-assign]
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app



def _openapi_with_limits(app: FastAPI, settings: ServiceSettings) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` that also states the service's limits on texts, which come from the environment."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            text = {"minLength": 1, "maxLength": settings.max_text_chars, "pattern": NOT_BLANK}
            bodies = schema["components"]["schemas"]
            bodies["PredictRequest"]["properties"]["text"].update(text)
            texts = bodies["BatchPredictRequest"]["properties"]["texts"]
            texts["maxItems"] = settings.max_texts_per_request
            texts["items"].update(text)
        return app.openapi_schema  # type: ignore[return-value]

    return openapi
