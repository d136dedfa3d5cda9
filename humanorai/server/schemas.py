"""Request and response bodies of the HTTP API, as pydantic models for validation and /docs.

This is the one wire shape: the engine's :class:`Prediction` converts to it once
(:meth:`PredictResponse.of`), for the API and for ``humanorai predict --json`` alike. The response keeps
the original app's fields (``individual_results``, ``ensemble``) and adds timings, windows and flags, and
segment scores when asked for.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, StrictBool, StrictStr

from humanorai.labels import label_name
from humanorai.scoring.engine import Prediction
from humanorai.scoring.ensemble import Verdict, Vote, confidence_percent
from humanorai.scoring.segments import MIXED_MARGIN, MIXED_WORD_SHARE, SEGMENT_THRESHOLD, Segment
from humanorai.segmentation import MIN_SEGMENT_WORDS
from humanorai.settings import EnsembleMethod, OperatingPoint

#: Below this many words a verdict is flagged as unreliable (the web page asks for at least this many).
MIN_RELIABLE_WORDS = 50
OPERATING_POINT_DESCRIPTION = ("balanced (default), fpr5 or fpr1: call a text AI only below the p_human at "
                               "which at most 5 % / 1 % of held-out human texts were called AI (with a margin "
                               "for sources never seen, where those texts came from 5 or more groups).")
ENSEMBLE_DESCRIPTION = "majority (the original rule), soft (mean p_human) or stacked; default: the bundle's."
SEGMENTS_DESCRIPTION = (f"Also score the text's segments (sentences grouped to at least {MIN_SEGMENT_WORDS} words) "
                        "and say whether the text is mixed. Costs about twice a plain answer.")
MIXED_DESCRIPTION = (f"With segments: true when each label holds at least {MIXED_WORD_SHARE:.0%} of the words, "
                     f"counting a segment's words for its label only when its p_human is at least {MIXED_MARGIN:g} "
                     f"from {SEGMENT_THRESHOLD:g}. Null without segments.")


class PredictRequest(BaseModel):
    # The text's limits (non-blank, at most HUMANORAI_MAX_TEXT_CHARS) are stated in the schema by the app and
    # checked by the route, whose messages name the problem; pydantic constraints would answer more vaguely.
    text: StrictStr = Field(description="The text to classify (English).")
    ensemble: EnsembleMethod | None = Field(default=None, description=ENSEMBLE_DESCRIPTION)
    operating_point: OperatingPoint | None = Field(default=None, description=OPERATING_POINT_DESCRIPTION)
    segments: StrictBool = Field(default=False, description=SEGMENTS_DESCRIPTION)


class BatchPredictRequest(BaseModel):
    texts: list[StrictStr] = Field(min_length=1, description="Texts to classify, each scored as in /predict.")
    ensemble: EnsembleMethod | None = Field(default=None, description=ENSEMBLE_DESCRIPTION)
    operating_point: OperatingPoint | None = Field(default=None, description=OPERATING_POINT_DESCRIPTION)
    segments: StrictBool = Field(default=False, description=SEGMENTS_DESCRIPTION)


class MemberResult(BaseModel):
    prediction: int = Field(description="1 = HUMAN, 0 = AI")
    label: str
    confidence: float = Field(description="Probability of the predicted label, in percent.")
    p_human: float
    threshold: float

    @classmethod
    def of(cls, vote: Vote) -> MemberResult:
        return cls(prediction=vote.prediction, label=label_name(vote.prediction),
                   confidence=confidence_percent(vote.prediction, vote.p_human), p_human=round(vote.p_human, 6),
                   threshold=vote.threshold)


class EnsembleResult(BaseModel):
    prediction: int
    label: str
    confidence: float
    p_human: float
    vote_count: int = Field(description="How many models say HUMAN.")
    total_models: int
    method: str
    operating_point: str = Field(description="balanced, or fpr5 / fpr1: at most 5 % / 1 % of human "
                                             "validation texts were called AI at this threshold.")

    @classmethod
    def of(cls, verdict: Verdict) -> EnsembleResult:
        return cls(prediction=verdict.prediction, label=verdict.label, confidence=verdict.confidence,
                   p_human=round(verdict.p_human, 6), vote_count=verdict.vote_count,
                   total_models=verdict.total_models, method=verdict.method,
                   operating_point=verdict.operating_point)


class SegmentResult(BaseModel):
    start: int = Field(ge=0, description="Offset of the segment's first character in the submitted text, in Unicode "
                                         "code points (JavaScript's string indices count a character beyond U+FFFF, "
                                         "such as an emoji, twice).")
    end: int = Field(ge=0, description="Offset just past its last character; the segments cover the text in order, "
                                       "each starting where the previous one ended.")
    p_human: float = Field(ge=0.0, le=1.0, description="Mean p_human of the members that score short spans well.")
    label: str = Field(description=f"HUMAN when p_human is at least {SEGMENT_THRESHOLD:g}, else AI.")

    @classmethod
    def of(cls, segment: Segment) -> SegmentResult:
        return cls(start=segment.start, end=segment.end, p_human=round(segment.p_human, 6), label=segment.label)


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
    segments: list[SegmentResult] | None = Field(default=None, description="With segments: the text's segments, "
                                                                           "in order. Null without segments.")
    mixed: bool | None = Field(default=None, description=MIXED_DESCRIPTION)

    @classmethod
    def of(cls, prediction: Prediction, text: str) -> PredictResponse:
        """The answer for ``text`` (whose words are counted for the reliability flag)."""
        words = len(text.split())
        return cls(
            individual_results={vote.member: MemberResult.of(vote) for vote in prediction.votes},
            ensemble=EnsembleResult.of(prediction.verdict),
            timings_ms={name: round(value, 3) for name, value in prediction.timings_ms.items()},
            windows=dict(prediction.windows), cached=prediction.cached, bundle=prediction.bundle_id,
            unavailable_models=list(prediction.unavailable), word_count=words,
            low_reliability=words < MIN_RELIABLE_WORDS,
            segments=None if prediction.segments is None else [SegmentResult.of(segment)
                                                               for segment in prediction.segments],
            mixed=prediction.mixed,
        )


class BatchPredictResponse(BaseModel):
    results: list[PredictResponse]


class DocumentResult(BaseModel):
    filename: str
    format: str = Field(description="pdf, docx or txt.")
    text: str = Field(description="The text read from the file, as it is scored; segment offsets index into it.")
    characters: int = Field(ge=0)
    word_count: int = Field(ge=0)

    @classmethod
    def of(cls, filename: str, file_format: str, text: str) -> DocumentResult:
        return cls(filename=filename, format=file_format, text=text, characters=len(text),
                   word_count=len(text.split()))


class FilePredictResponse(PredictResponse):
    document: DocumentResult = Field(description="The file and the text read from it.")

    @classmethod
    def of_document(cls, prediction: Prediction, document: DocumentResult) -> FilePredictResponse:
        return cls(**dict(PredictResponse.of(prediction, document.text)), document=document)


class ErrorResponse(BaseModel):
    error: str
    detail: object | None = None
