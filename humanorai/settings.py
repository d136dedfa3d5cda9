"""Every choice and every setting, declared once: the Literals of each option, the serving, engine and
training settings, and the ``HUMANORAI_*`` environment variables, validated once when read.

This module imports nothing from humanorai, so anything (the CLI's ``--help`` included) can read it
without loading a model library. Invalid values raise ``ValueError`` with the option's name.

| variable | default | meaning |
|---|---|---|
| HUMANORAI_BUNDLE | models/demo | bundle folder used when a command is given none (default: the built-in demo) |
| HUMANORAI_API_KEY | (none) | when set, API routes need the header ``X-API-Key: <key>`` |
| HUMANORAI_CORS_ORIGINS | (none) | comma-separated origins allowed by CORS; CORS is off when unset |
| HUMANORAI_MAX_TEXT_CHARS | 100000 | longest accepted text (longer: HTTP 413; ``batch``: an error row) |
| HUMANORAI_MAX_BATCH_TEXTS | 64 | most texts in one ``/predict/batch`` call (more: HTTP 413) |
| HUMANORAI_MAX_REQUEST_TOKENS | 131072 | most token positions (windows x tokens, all members) per request (413) |
| HUMANORAI_REQUEST_TIMEOUT_S | 60 | a request unanswered this long after it arrived gets HTTP 504; its scoring stops |
| HUMANORAI_MAX_BODY_BYTES | 8388608 | largest request body, refused before it is read (more: HTTP 413) |
| HUMANORAI_MAX_UPLOAD_BYTES | 10485760 | largest file for ``/predict/file`` and ``/extract`` (more: HTTP 413) |
| HUMANORAI_MAX_HEADER_BYTES | 16384 | largest request head (request line and headers; more: HTTP 431) |
| HUMANORAI_HEADER_TIMEOUT_S | 10 | a connection that has not sent a whole request head this long is closed (HTTP 408) |
| HUMANORAI_KEEP_ALIVE_S | 5 | an idle keep-alive connection is closed after this long |
| HUMANORAI_MAX_CONNECTIONS | 512 | open connections; more get 503 and are closed (capped at the file limit less 64) |
| HUMANORAI_MAX_CONCURRENT_REQUESTS | 64 | requests scored at once; more get HTTP 429 |
| HUMANORAI_CACHE_SIZE | 2048 | texts whose member votes are kept for repeats (0 disables) |
| HUMANORAI_BATCHING | 1 | merge concurrent requests into micro-batches (0: each request is scored on its own) |
| HUMANORAI_BATCH_WAIT_MS | 10 | longest wait for a micro-batch to fill |
| HUMANORAI_MAX_BATCH_TEXTS_PER_RUN | 32 | most texts in one micro-batch |
| HUMANORAI_MAX_BATCH_TOKENS | 16384 | most tokens in one micro-batch, counted as UTF-8 bytes (an upper bound) |
| HUMANORAI_MAX_QUEUED_TEXTS | 256 | most texts waiting for a micro-batch; more get HTTP 429 |
| HUMANORAI_SHUTDOWN_GRACE_S | 10 | on SIGTERM/SIGINT, how long requests in flight may take to finish |
| HUMANORAI_SEGMENT_MEMBERS | DRF,GBM,GLM,BERT,RoBERTa | comma-separated members whose mean scores segments |

Numbers must be finite and not negative (counts at least 1 where 0 would refuse everything); a variable
set to an empty value counts as unset, except ``HUMANORAI_API_KEY``: an empty key is refused rather than
read as "no authentication".
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

ENV_PREFIX = "HUMANORAI_"
#: The demo bundle that ships in the repository (trained on the shared corpus; see its manifest's command),
#: so ``humanorai serve`` works on a fresh clone without training anything.
DEMO_BUNDLE = Path(__file__).resolve().parent.parent / "models" / "demo"

Backend = Literal["auto", "onnx", "openvino", "torch"]
Precision = Literal["auto", "int8", "fp32", "fp16", "bf16"]
Device = Literal["auto", "cpu", "cuda"]
#: How a long text's windows make one score (see ``members.transformer.member.AGGREGATIONS``).
WindowAggregation = Literal["mean", "median", "min", "max"]
#: How the members' votes make the verdict (see ``scoring.ensemble``).
EnsembleMethod = Literal["majority", "soft", "stacked"]
#: Where the verdict's threshold sits: the methods' own rule (``balanced``), or the ``p_human`` below which
#: at most 5 % / 1 % of the held-out human texts fall (``fpr5``, ``fpr1``), with a margin for sources never
#: seen (``training.stacking``): fewer people wrongly accused.
OperatingPoint = Literal["balanced", "fpr5", "fpr1"]
#: The false-positive rate on human texts of each operating point but ``balanced``.
FALSE_POSITIVE_RATES = {"fpr5": 0.05, "fpr1": 0.01}
#: A bundle's default method as ``train`` takes it: a method, or the best one on the test split.
EnsembleChoice = Literal["majority", "soft", "stacked", "best"]
#: What calibration, the stacker and the operating points are fitted on: the validation split's scores, or
#: out-of-fold scores over the training split's groups (group K-fold) for the members cheap to retrain,
#: pooled with the validation split's (see ``training.out_of_fold``).
CalibrationSource = Literal["validation", "group-kfold"]
#: Size of a transformer trained from scratch (see ``members.transformer.checkpoints.PRESETS``).
PresetName = Literal["tiny", "small"]
#: Which epoch's weights fine-tuning keeps, judged on the validation split.
KeepBest = Literal["loss", "roc-auc"]


def names(value: str) -> tuple[str, ...]:
    """A comma-separated list of names, blanks dropped (``"drf, bert"`` → ``("drf", "bert")``)."""
    return tuple(name.strip() for name in value.split(",") if name.strip())


def choice(value: str, allowed: Any, option: str) -> Any:
    """``value`` if it is one of the Literal ``allowed`` (or an iterable of strings), else a ValueError
    naming ``option`` and the choices."""
    options = get_args(allowed) or tuple(allowed)
    if value not in options:
        raise ValueError(f"{option} must be one of {', '.join(options)}, not {value!r}")
    return value


@dataclass(frozen=True)
class TransformerSettings:
    """How transformer members run on this machine (chosen at serve time, not stored in the bundle)."""

    backend: Backend = "auto"
    precision: Precision = "auto"
    device: Device = "auto"
    #: Threads per inference call; ``None``: the engine shares the cores between members that run at once.
    threads: int | None = None
    #: Window length in tokens; ``None`` uses the length the member was trained with.
    max_length: int | None = None
    #: Tokens shared by neighbouring windows of a long text; ``None``: a quarter of the window.
    stride: int | None = None
    window_aggregation: WindowAggregation = "mean"
    #: Replay CUDA graphs, captured at load time, for small runs of windows (PyTorch on CUDA; elsewhere it
    #: changes nothing; see ``members.transformer.cuda_graphs``): at batch 1 a GPU otherwise waits on kernel
    #: launches. Off until a GPU run of ``benchmarks/gpu.py --engine`` has measured it.
    cuda_graphs: bool = False

    def __post_init__(self) -> None:
        choice(self.backend, Backend, "--backend")
        choice(self.precision, Precision, "--precision")
        choice(self.device, Device, "--device")
        choice(self.window_aggregation, WindowAggregation, "--window-aggregation")


@dataclass(frozen=True)
class BatchLimits:
    """The micro-batcher's limits, passed in once (see ``scoring.batching``)."""

    #: Longest time the first request of a batch waits for others to join, in milliseconds.
    max_wait_ms: float = 10.0
    #: Most texts in one micro-batch.
    max_batch_texts: int = 32
    #: Most tokens in one batch, counted as UTF-8 bytes (a token is at least one byte); a single larger request
    #: runs alone. Small on purpose: a batch's texts are answered together, so a long one would hold up the
    #: short ones merged with it; the model runs are cut into runs of windows anyway.
    max_batch_tokens: int = 16384
    #: Most texts waiting in the queue; more are refused as overloaded.
    max_queued_texts: int = 256

    def without_merging(self) -> BatchLimits:
        """These limits with one text per batch and no wait: the scheduler's fair turns and deadlines
        without micro-batching (``HUMANORAI_BATCHING=0``)."""
        return replace(self, max_wait_ms=0, max_batch_texts=1)


#: The members whose mean ``p_human`` scores a segment unless told otherwise: those whose ROC AUC on
#: segments of held-out corpus texts is clearly above chance (``experiments/segment_auc.py``; the numbers and
#: the choice are in docs/quality.md). A bundle without some of them uses those it has.
DEFAULT_SEGMENT_MEMBERS = ("DRF", "GBM", "GLM", "BERT", "RoBERTa")


@dataclass(frozen=True)
class EngineSettings:
    #: Texts whose member votes are kept for repeats (0 disables the cache).
    cache_size: int = 2048
    #: Merge concurrent callers into micro-batches (``None`` scores every call on its own).
    batching: BatchLimits | None = None
    #: Run member groups (the H2O trio, each transformer) at the same time.
    parallel_members: bool = True
    #: Members (any case) whose mean scores a segment; each must be in the bundle. ``None``: those of
    #: :data:`DEFAULT_SEGMENT_MEMBERS` the bundle has.
    segment_members: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.segment_members is not None and not self.segment_members:
            raise ValueError("segment members: name at least one member")


@dataclass(frozen=True)
class ServiceSettings:
    """What the HTTP service reads from the environment (see the table above)."""

    bundle: Path | None = None
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_text_chars: int = 100_000
    #: Most texts in one ``/predict/batch`` call (a micro-batch's limit is ``BatchLimits.max_batch_texts``).
    max_texts_per_request: int = 64
    max_concurrent_requests: int = 64
    #: Token positions (windows x their tokens, every transformer summed) one request may cost.
    max_request_tokens: int = 131_072
    request_timeout_s: float = 60.0
    max_body_bytes: int = 8 * 1024 * 1024
    #: Largest uploaded file (``/predict/file``, ``/extract``); their bodies may exceed it by the form's framing.
    max_upload_bytes: int = 10 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    header_timeout_s: float = 10.0
    keep_alive_s: float = 5.0
    max_connections: int = 512
    #: On SIGTERM/SIGINT, how long requests in flight may take to finish before the process exits.
    shutdown_grace_s: int = 10
    engine: EngineSettings = field(default_factory=lambda: EngineSettings(batching=BatchLimits()))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ServiceSettings:
        def value(name: str) -> str | None:
            return environ.get(f"{ENV_PREFIX}{name}") or None

        def number(name: str, default: float, least: float = 0) -> float:
            raw = value(name)
            try:
                parsed = default if raw is None else float(raw)
            except ValueError as error:
                raise ValueError(f"{ENV_PREFIX}{name}={raw!r} is not a number") from error
            if not math.isfinite(parsed) or parsed < least:
                raise ValueError(f"{ENV_PREFIX}{name}={raw!r} must be a finite number of at least {least:g}")
            return parsed

        if f"{ENV_PREFIX}API_KEY" in environ and not environ[f"{ENV_PREFIX}API_KEY"].strip():
            raise ValueError(f"{ENV_PREFIX}API_KEY is set but empty: set a key, or unset it to serve without one")

        defaults = cls()
        limits = BatchLimits(
            max_wait_ms=number("BATCH_WAIT_MS", BatchLimits.max_wait_ms),
            max_batch_texts=int(number("MAX_BATCH_TEXTS_PER_RUN", BatchLimits.max_batch_texts, 1)),
            max_batch_tokens=int(number("MAX_BATCH_TOKENS", BatchLimits.max_batch_tokens, 1)),
            max_queued_texts=int(number("MAX_QUEUED_TEXTS", BatchLimits.max_queued_texts, 1)),
        )
        bundle = value("BUNDLE")
        origins = value("CORS_ORIGINS")
        segment_members = value("SEGMENT_MEMBERS")
        return cls(
            bundle=Path(bundle) if bundle else None,
            api_key=value("API_KEY"),
            cors_origins=tuple(origin.strip() for origin in origins.split(",") if origin.strip()) if origins else (),
            max_text_chars=int(number("MAX_TEXT_CHARS", defaults.max_text_chars, 1)),
            max_texts_per_request=int(number("MAX_BATCH_TEXTS", defaults.max_texts_per_request, 1)),
            max_concurrent_requests=int(number("MAX_CONCURRENT_REQUESTS", defaults.max_concurrent_requests, 1)),
            max_request_tokens=int(number("MAX_REQUEST_TOKENS", defaults.max_request_tokens, 1)),
            request_timeout_s=number("REQUEST_TIMEOUT_S", defaults.request_timeout_s, 0.001),
            max_body_bytes=int(number("MAX_BODY_BYTES", defaults.max_body_bytes, 1)),
            max_upload_bytes=int(number("MAX_UPLOAD_BYTES", defaults.max_upload_bytes, 1)),
            max_header_bytes=int(number("MAX_HEADER_BYTES", defaults.max_header_bytes, 1024)),
            header_timeout_s=number("HEADER_TIMEOUT_S", defaults.header_timeout_s, 0.001),
            keep_alive_s=number("KEEP_ALIVE_S", defaults.keep_alive_s, 0.001),
            max_connections=int(number("MAX_CONNECTIONS", defaults.max_connections, 1)),
            shutdown_grace_s=math.ceil(number("SHUTDOWN_GRACE_S", defaults.shutdown_grace_s)),
            engine=EngineSettings(
                cache_size=int(number("CACHE_SIZE", EngineSettings.cache_size)),
                # The server always schedules through the batcher (fair turns, deadlines); off = no merging.
                batching=limits if number("BATCHING", 1) else limits.without_merging(),
                segment_members=None if segment_members is None else names(segment_members),
            ),
        )


#: A block of features for the H2O members: TF-IDF word n-grams, TF-IDF character n-grams, or stylometric
#: measures (sentence-length spread, punctuation and function-word rates, type/token ratio, …).
FeatureBlock = Literal["word", "char", "style"]


@dataclass(frozen=True)
class TfidfSettings:
    """The features of the H2O members: blocks of TF-IDF and stylometric features."""

    #: Blocks joined by ``+`` (e.g. ``word``, the original's 1–2-grams; ``word+char+style``).
    features: str = "word"
    #: Terms per block.
    max_features: int = 5000
    #: Longest word n-gram (1 = unigrams).
    max_ngram: int = 2
    #: Shortest and longest character n-gram.
    char_ngram_range: tuple[int, int] = (2, 5)
    #: Fewest training texts a term must occur in.
    min_df: int = 2

    def __post_init__(self) -> None:
        parts = self.features.split("+")
        for part in parts:
            choice(part, FeatureBlock, "--features: each block")
        if len(set(parts)) != len(parts):
            raise ValueError(f"--features names a block twice: {self.features!r}")

    @property
    def blocks(self) -> tuple[FeatureBlock, ...]:
        return tuple(block for block in get_args(FeatureBlock) if block in self.features.split("+"))


@dataclass(frozen=True)
class H2OSettings:
    """Training knobs of the three H2O members; early stopping watches the validation frame."""

    ntrees: int = 300
    max_depth_gbm: int = 6
    learn_rate: float = 0.1
    stopping_rounds: int = 5
    stopping_tolerance: float = 1e-3
    seed: int = 42
    #: At most this many training texts per group, drawn from every text of the training split's groups
    #: (not only the ``--sample-per-group`` sample, which still sets the split and the transformers' texts);
    #: ``None``: the training split as it is. The H2O members are cheap: more text costs them minutes.
    sample_per_group: int | None = None
    #: GLM's L2 strength (H2O's ``lambda``: per text, on the mean log-likelihood); ``None``: H2O's lambda
    #: search, stopped on the validation frame.
    glm_lambda: float | None = None
    #: Whether GLM scales every TF-IDF column to unit variance first (H2O's default), which lifts rare
    #: n-grams to the weight of common ones.
    glm_standardize: bool = True
    #: DRF and GBM read only this many terms of each TF-IDF block, those most training texts contain, so
    #: that a larger vocabulary for GLM does not multiply their training time; ``None``: every column.
    tree_features: int | None = None

    def __post_init__(self) -> None:
        if self.sample_per_group is not None and self.sample_per_group < 2:
            raise ValueError(f"--h2o-sample-per-group must be at least 2, not {self.sample_per_group}")
        if self.glm_lambda is not None and not self.glm_lambda > 0:
            raise ValueError(f"--glm-lambda must be above 0, not {self.glm_lambda}")
        if self.tree_features is not None and self.tree_features < 1:
            raise ValueError(f"--tree-features must be at least 1, not {self.tree_features}")


@dataclass(frozen=True)
class FineTuneSettings:
    epochs: int = 3
    batch_size: int = 16
    gradient_accumulation: int = 1
    #: ``None``: the preset's rate from scratch, the pretrained rate for a base checkpoint.
    learning_rate: float | None = None
    max_length: int = 512
    patience: int = 1
    seed: int = 42
    #: Share of the optimizer steps spent raising the rate linearly from 0 before it decays linearly to 0;
    #: ``None``: the preset's from scratch, none for a base checkpoint.
    warmup_fraction: float | None = None
    #: The epoch kept (and early stopping's yardstick): lowest validation loss, or highest validation ROC AUC.
    #: On validation groups unlike the training ones the loss can rise while the ranking improves (a model
    #: growing more confident); calibration fixes confidence afterwards, not ranking (docs/quality.md).
    keep_best: KeepBest = "loss"

    def __post_init__(self) -> None:
        if self.warmup_fraction is not None and not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"--warmup must be at least 0 and below 1, not {self.warmup_fraction}")
        choice(self.keep_best, KeepBest, "--keep-best")


@dataclass(frozen=True)
class TransformerTrainSettings:
    """Where the transformers start from and how they are fine-tuned."""

    preset: PresetName = "small"
    bert_base: str | None = None
    roberta_base: str | None = None
    fine_tune: FineTuneSettings = field(default_factory=FineTuneSettings)
    #: Also write a static INT8 OpenVINO model, calibrated on training texts (for CPUs with AMX-INT8 or
    #: AVX-512 VNNI). Opt-in: it adds about one byte per weight to the bundle, and needs NNCF to train.
    openvino_int8: bool = False
    #: Training texts (a seeded sample) whose activation ranges calibrate that INT8: NNCF's default subset.
    int8_calibration_texts: int = 300
    #: At most this many training texts per group for BERT, drawn from every text of the training split's
    #: groups, as for the H2O members; ``None``: the sampled training split. MiniLM's ROC AUC on unseen groups
    #: rose from 0.877 to 0.899 with up to 400 instead of 160 (group 6-fold on a lent GPU, docs/quality.md).
    bert_sample_per_group: int | None = None
    #: Likewise for RoBERTa. Per member because they differ: the ``small`` RoBERTa from scratch stopped
    #: learning with 400 per group in the demo's recipe, where the pretrained MiniLM gained.
    roberta_sample_per_group: int | None = None

    @property
    def sample_per_group(self) -> dict[str, int | None]:
        """Each transformer member's ``--…-sample-per-group``, by member name."""
        return {"BERT": self.bert_sample_per_group, "RoBERTa": self.roberta_sample_per_group}

    def __post_init__(self) -> None:
        choice(self.preset, PresetName, "--preset")
        if self.int8_calibration_texts < 1:
            raise ValueError(f"--int8-calibration-texts must be at least 1, not {self.int8_calibration_texts}")
        for member, most in self.sample_per_group.items():
            if most is not None and most < 2:
                raise ValueError(f"--{member.lower()}-sample-per-group must be at least 2, not {most}")
        if self.openvino_int8 and importlib.util.find_spec("nncf") is None:
            raise ValueError("--openvino-int8 needs the package nncf: pip install 'humanorai[int8]'")


@dataclass(frozen=True)
class DataSettings:
    """Which columns of a CSV/JSONL file hold what (shared by ``train`` and ``evaluate``)."""

    text_column: str = "text"
    label_column: str = "label"
    #: Column whose values keep related texts in one split, or break a report down.
    group_by: str | None = None
    #: Regex applied to ``group_by``; its first group is the key, e.g. ``^l2r/([^/]+)/``.
    group_pattern: str | None = None


#: Said wherever texts are sampled per group without groups to sample from.
NO_GROUPS_TO_SAMPLE = "a sample per group needs --group-by (and usually --group-pattern) to know the groups"

#: Keys of per-file column overrides (``PATH#text=body,label=who,group=source``) → DataSettings fields.
_COLUMN_KEYS = {"text": "text_column", "label": "label_column", "group": "group_by"}


@dataclass(frozen=True)
class DataSource:
    """One data file and the columns to read from it."""

    path: Path
    columns: DataSettings = field(default_factory=DataSettings)

    @classmethod
    def parse(cls, spec: str, columns: DataSettings) -> DataSource:
        """``PATH`` with ``columns``, or ``PATH#key=value,...`` overriding some of them (keys: text, label,
        group), for files whose columns are named differently."""
        path, _, overrides = spec.partition("#")
        changes: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in overrides.split(","))):
            key, _, value = item.partition("=")
            if key not in _COLUMN_KEYS or not value:
                raise ValueError(f"{spec!r}: column overrides are key=value pairs with keys "
                                 f"{', '.join(_COLUMN_KEYS)}, e.g. data.csv#text=body,label=who")
            changes[_COLUMN_KEYS[key]] = value
        return cls(Path(path), replace(columns, **changes))


@dataclass(frozen=True)
class TableColumns:
    """Where a CSV/JSONL file to score keeps its texts and, optionally, the ids its rows are known by."""

    text: str = "text"
    #: ``None``: rows are known by their number.
    id: str | None = None


@dataclass(frozen=True)
class BatchSettings:
    """What one ``humanorai batch`` run reads, how it scores, and where it writes."""

    #: The ``.jsonl`` or ``.csv`` file of rows.
    out: Path
    columns: TableColumns = field(default_factory=TableColumns)
    #: Ensemble method and operating point (``None``: the bundle's method; balanced).
    method: str | None = None
    operating_point: str | None = None
    #: Texts per engine call, and per flush of OUT: enough for the engine to batch (a transformer runs windows
    #: of similar length together), few enough that a stopped or killed run loses little.
    chunk_size: int = 32
    #: Keep OUT's rows and skip their ids (else OUT is started afresh).
    resume: bool = False
    #: The limits a text must keep to be scored: the server's (characters and token positions per text).
    limits: ServiceSettings = field(default_factory=ServiceSettings)
    #: Also score each text's segments: the rows gain ``mixed`` and ``segments``.
    segments: bool = False

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError(f"--chunk-size must be at least 1, not {self.chunk_size}")


@dataclass(frozen=True)
class TrainSettings:
    """Everything ``humanorai train`` was asked to do. Each member family reads its own part
    (``tfidf`` and ``h2o``, ``transformers``); the pipeline reads the rest."""

    #: The data files, read as one corpus.
    data: tuple[DataSource, ...]
    out: Path
    #: Member names to train (as the registry names them); empty means every member of every family.
    members: tuple[str, ...] = ()
    seed: int = 42
    #: At most this many texts per group (half of each label where it can) before the split; ``None``: all.
    #: It keeps a many-corpus training, or a cross evaluation, within reach of a small machine.
    sample_per_group: int | None = None
    valid_fraction: float = 0.15
    test_fraction: float = 0.15
    tfidf: TfidfSettings = field(default_factory=TfidfSettings)
    h2o: H2OSettings = field(default_factory=H2OSettings)
    #: Use this running H2O cluster instead of starting one.
    h2o_url: str | None = None
    transformers: TransformerTrainSettings = field(default_factory=TransformerTrainSettings)
    #: Fit a Platt calibration per member (applied when serving), on the data ``calibration`` says.
    calibrate: bool = False
    #: What calibration, the stacker and the operating points are fitted on; ``group-kfold`` was chosen by
    #: the cross-corpus measurements in docs/quality.md.
    calibration: CalibrationSource = "group-kfold"
    #: Folds of the training split's groups for ``group-kfold`` (fewer when there are fewer groups); each
    #: costs one more training of the ``refit_members``.
    calibration_folds: int = 3
    #: Members retrained on every fold for ``group-kfold``: those cheap to retrain (the H2O trio). The
    #: others, not retrained, are calibrated on the validation split (so with none of these among the
    #: members, ``group-kfold`` is ``validation``).
    refit_members: tuple[str, ...] = ("DRF", "GBM", "GLM")
    ensemble: EnsembleChoice = "majority"
    #: Keep only what serving needs (e.g. drop the transformers' safetensors and FP32 ONNX).
    serving_only: bool = False
    #: Where the training data comes from and its licence, recorded in the manifest.
    data_credit: str | None = None
    overwrite: bool = False
    command: str = ""

    def __post_init__(self) -> None:
        choice(self.ensemble, EnsembleChoice, "--ensemble")
        choice(self.calibration, CalibrationSource, "--calibration")
        if self.calibration_folds < 2:
            raise ValueError(f"--calibration-folds must be at least 2, not {self.calibration_folds}")
        for option, fraction in (("--valid-fraction", self.valid_fraction), ("--test-fraction", self.test_fraction)):
            if not 0 < fraction < 0.5:
                raise ValueError(f"{option} must be above 0 and below 0.5, not {fraction}")
        if self.sample_per_group is not None and self.sample_per_group < 2:
            raise ValueError(f"--sample-per-group must be at least 2, not {self.sample_per_group}")
        samples = (self.sample_per_group, self.h2o.sample_per_group, *self.transformers.sample_per_group.values())
        if any(most is not None for most in samples) and any(source.columns.group_by is None for source in self.data):
            raise ValueError(NO_GROUPS_TO_SAMPLE)  # said before any data is read or any JVM starts
        if self.ensemble == "stacked" and len(self.members) == 1:
            raise ValueError("the stacked ensemble needs at least two members")


#: What a cross evaluation holds out in turn: each group (``--group-by``) or each data file.
CrossUnit = Literal["groups", "files"]


@dataclass(frozen=True)
class CrossSettings:
    """``train --cross``: the training to evaluate, and how."""

    train: TrainSettings
    unit: CrossUnit = "groups"
    #: Folder for ``cross.json`` and ``cross.md``.
    out: Path = Path("humanorai-cross")

    def __post_init__(self) -> None:
        choice(self.unit, CrossUnit, "--cross")
