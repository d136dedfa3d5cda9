"""Settings read once from ``HUMANORAI_*`` environment variables; every default lives here.

| variable | default | meaning |
|---|---|---|
| HUMANORAI_BUNDLE | models/demo | bundle folder used when a command is given none (default: the built-in demo) |
| HUMANORAI_API_KEY | (none) | when set, API routes need the header ``X-API-Key: <key>`` |
| HUMANORAI_CORS_ORIGINS | (none) | comma-separated origins allowed by CORS; CORS is off when unset |
| HUMANORAI_MAX_TEXT_CHARS | 100000 | longest accepted text (longer: HTTP 413) |
| HUMANORAI_MAX_BATCH_TEXTS | 64 | most texts in one ``/predict/batch`` call (more: HTTP 413) |
| HUMANORAI_MAX_CONCURRENT_REQUESTS | 64 | requests scored at once; more get HTTP 429 |
| HUMANORAI_CACHE_SIZE | 2048 | predictions kept for repeated texts (0 disables) |
| HUMANORAI_BATCHING | 1 | merge concurrent requests into micro-batches (0 disables) |
| HUMANORAI_BATCH_WAIT_MS | 10 | longest wait for a micro-batch to fill |
| HUMANORAI_MAX_BATCH_TEXTS_PER_RUN | 32 | most texts in one micro-batch |
| HUMANORAI_MAX_BATCH_TOKENS | 16384 | most estimated tokens in one micro-batch |
| HUMANORAI_MAX_QUEUED_TEXTS | 256 | most texts waiting for a micro-batch; more get HTTP 429 |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from humanorai.batching import BatchLimits
from humanorai.engine import EngineSettings

ENV_PREFIX = "HUMANORAI_"
#: The demo bundle that ships in the repository (trained on the shared corpus; see its manifest's command),
#: so ``humanorai serve`` works on a fresh clone without training anything.
DEMO_BUNDLE = Path(__file__).resolve().parent.parent / "models" / "demo"


@dataclass(frozen=True)
class Settings:
    bundle: Path | None = None
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_text_chars: int = 100_000
    max_batch_texts: int = 64
    max_concurrent_requests: int = 64
    engine: EngineSettings = field(default_factory=lambda: EngineSettings(batching=BatchLimits()))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        def value(name: str) -> str | None:
            return environ.get(f"{ENV_PREFIX}{name}") or None

        def number(name: str, default: float) -> float:
            raw = value(name)
            try:
                return default if raw is None else float(raw)
            except ValueError as error:
                raise ValueError(f"{ENV_PREFIX}{name}={raw!r} is not a number") from error

        defaults = cls()
        limits = BatchLimits(
            max_wait_ms=number("BATCH_WAIT_MS", BatchLimits.max_wait_ms),
            max_batch_texts=int(number("MAX_BATCH_TEXTS_PER_RUN", BatchLimits.max_batch_texts)),
            max_batch_tokens=int(number("MAX_BATCH_TOKENS", BatchLimits.max_batch_tokens)),
            max_queued_texts=int(number("MAX_QUEUED_TEXTS", BatchLimits.max_queued_texts)),
        )
        bundle = value("BUNDLE")
        origins = value("CORS_ORIGINS")
        return cls(
            bundle=Path(bundle) if bundle else None,
            api_key=value("API_KEY"),
            cors_origins=tuple(origin.strip() for origin in origins.split(",") if origin.strip()) if origins else (),
            max_text_chars=int(number("MAX_TEXT_CHARS", defaults.max_text_chars)),
            max_batch_texts=int(number("MAX_BATCH_TEXTS", defaults.max_batch_texts)),
            max_concurrent_requests=int(number("MAX_CONCURRENT_REQUESTS", defaults.max_concurrent_requests)),
            engine=EngineSettings(
                cache_size=int(number("CACHE_SIZE", EngineSettings.cache_size)),
                batching=limits if number("BATCHING", 1) else None,
            ),
        )
