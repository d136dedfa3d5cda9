"""Request and response bodies of the HTTP API (DESIGN §2), as pydantic models for validation and /docs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, StrictStr

EnsembleMethod = Literal["majority", "soft", "stacked"]
ENSEMBLE_DESCRIPTION = "majority (the original rule), soft (mean p_human) or stacked; default: the bundle's."


class PredictRequest(BaseModel):
    text: StrictStr = Field(description="The text to classify (English).")
    ensemble: EnsembleMethod | None = Field(default=None, description=ENSEMBLE_DESCRIPTION)


class BatchPredictRequest(BaseModel):
    texts: list[StrictStr] = Field(description="Texts to classify, each scored as in /predict.")
    ensemble: EnsembleMethod | None = Field(default=None, description=ENSEMBLE_DESCRIPTION)


class MemberResult(BaseModel):
    prediction: int = Field(description="1 = HUMAN, 0 = AI")
    label: str
    confidence: float = Field(description="Probability of the predicted label, in percent.")
    p_human: float
    threshold: float


class EnsembleResult(BaseModel):
    prediction: int
    label: str
    confidence: float
    p_human: float
    vote_count: int = Field(description="How many models say HUMAN.")
    total_models: int
    method: str


class PredictResponse(BaseModel):
    individual_results: dict[str, MemberResult]
    ensemble: EnsembleResult
    timings_ms: dict[str, float]
    windows: dict[str, int] = Field(description="Transformer windows scored (more than 1 for long texts).")
    cached: bool
    bundle: str
    unavailable_models: list[str]
    word_count: int
    low_reliability: bool = Field(description="True under 50 words: verdicts on short texts are unreliable.")


class BatchPredictResponse(BaseModel):
    results: list[PredictResponse]


class ErrorResponse(BaseModel):
    error: str
    detail: object | None = None
