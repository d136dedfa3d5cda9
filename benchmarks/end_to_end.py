"""The original app and the engine, all five members, measured side by side in one run.

The original path is rebuilt as the original app ran it: per request, sequentially, a fresh dense
H2OFrame per H2O model scored in an H2O cluster, then BERT and RoBERTa in PyTorch FP32 with truncation.
The engine scores the same texts with the same models: MOJOs in process, TF-IDF once, ONNX Runtime,
members concurrently. Both score one temporary five-member bundle: the H2O members of a trained
bundle plus BERT-base- and RoBERTa-base-sized transformers with random weights (hubs are unreachable
here; speed does not depend on the weight values). The run also checks that both paths agree, and prints
the result as Markdown; the exit status is 1 when they do not.

Usage: python -m benchmarks.end_to_end [--bundle DIR] [--corpus CSV] [--texts 10] [--size base|tiny] …
(PyTorch and ``transformers`` are imported only when a run needs them, so ``--help`` answers at once.)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from benchmarks.classical import H2O_TOLERANCE, OriginalH2O
from benchmarks.environment import DEFAULT_CORPUS, cpu_model, default_bundle
from benchmarks.random_transformers import (
    Size,
    generated_rows,
    long_texts,
    random_classifier,
    save_member,
    shape_of,
)
from humanorai.bundle import Manifest, read_manifest, write_manifest
from humanorai.corpus import read_table
from humanorai.errors import BundleError, HumanoraiError, InputError
from humanorai.labels import HUMAN
from humanorai.members.base import TextBatch
from humanorai.members.h2o.cluster import h2o_cluster
from humanorai.members.h2o.family import H2OFamily, features_of
from humanorai.members.h2o.features import FeatureSet
from humanorai.members.h2o.member import tfidf_matrix
from humanorai.members.transformer.family import TransformerFamily
from humanorai.progress import stage
from humanorai.scoring.engine import Engine
from humanorai.settings import Backend, EngineSettings, Precision, TransformerSettings
from humanorai.text import RAW, normalize

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

#: Allowed difference of the transformers' ``p_human`` between PyTorch FP32 and the engine (INT8 or FP32).
TRANSFORMER_TOLERANCE = 0.05
#: Targets: the five-member verdict at least this many times faster than the original path, and the
#: engine's wall time at most this much over the raw sum of its members' inference times.
SPEEDUP_TARGET = 10.0
OVERHEAD_TARGET_PERCENT = 10.0

@dataclass(frozen=True)
class BenchSettings:
    """What one run measures; the defaults are the reference setting (base size, 512-token texts)."""

    #: A trained bundle whose H2O members (TF-IDF, DRF, GBM, GLM) are benchmarked.
    bundle: Path
    #: CSV or JSONL with a ``text`` (and optionally ``source``) column; ``None``: generated English-like text.
    corpus: Path | None = None
    size: Size = "base"
    #: Single texts scored one by one (medians over texts × repeats).
    texts: int = 10
    repeats: int = 1
    batch_size: int = 64
    #: Token length of the benchmark texts and the transformers' window.
    max_length: int = 512
    seed: int = 0
    #: Longest the original path may spend on the batch; beyond it a sample is timed and extrapolated.
    original_batch_budget_s: float = 180.0
    #: How the engine runs its transformers: on the CPU, as the original did; the default picks the fastest
    #: CPU path for this machine.
    transformers: TransformerSettings = field(default_factory=lambda: TransformerSettings(device="cpu"))


@dataclass(frozen=True)
class Throughput:
    """Texts per second on one batch: the original path text by text, the engine in one call."""

    batch_size: int
    #: Texts of the batch the original path really scored (fewer than the batch when extrapolated).
    original_sample: int
    original_texts_per_s: float
    engine_texts_per_s: float

    @property
    def ratio(self) -> float:
        return self.engine_texts_per_s / self.original_texts_per_s

    @property
    def extrapolated(self) -> bool:
        return self.original_sample < self.batch_size


@dataclass(frozen=True)
class BenchResult:
    """Everything one run measured, in numbers; :func:`render_markdown` turns it into the report."""

    cpu: str
    cores: int
    size: Size
    #: Transformer name → its shape, e.g. ``12 layers, hidden 768, vocab 30522``.
    models: dict[str, str]
    #: Member name → how the engine runs it, e.g. ``onnx int8``.
    engine_backends: dict[str, str]
    text_source: str
    #: Transformer name → median tokens of the benchmark texts (special tokens included).
    median_tokens: dict[str, int]
    texts: int
    repeats: int
    #: Stage (``tfidf``, member names, ``total``) → median ms per text.
    original_ms: dict[str, float]
    engine_ms: dict[str, float]
    #: Median ms of TF-IDF plus every member's ``predict_proba``, called one after another.
    raw_member_sum_ms: float
    throughput: Throughput
    h2o_max_difference: float
    transformer_max_difference: dict[str, float]

    def ratio(self, stage_name: str) -> float:
        """How many times faster the engine ran ``stage_name`` than the original path."""
        return self.original_ms[stage_name] / self.engine_ms[stage_name]

    @property
    def overhead_percent(self) -> float:
        """Engine wall time over the raw sum of its parts; negative where concurrency wins."""
        return 100.0 * (self.engine_ms["total"] / self.raw_member_sum_ms - 1.0)

    @property
    def parity_failures(self) -> list[str]:
        """What disagrees beyond tolerance between the two paths (empty when they agree)."""
        failures = []  # "not <=" so that a NaN difference fails too
        if not self.h2o_max_difference <= H2O_TOLERANCE:
            failures.append(f"H2O members: |Δp_human| {self.h2o_max_difference:.2e} > {H2O_TOLERANCE:g}")
        failures += [f"{name}: |Δp_human| {difference:.3f} > {TRANSFORMER_TOLERANCE:g}"
                     for name, difference in self.transformer_max_difference.items()
                     if not difference <= TRANSFORMER_TOLERANCE]
        return failures


def run_bench(options: BenchSettings) -> BenchResult:
    """Build the five-member bundle, time both paths on the same texts, and check that they agree."""
    if min(options.texts, options.repeats, options.batch_size) < 1:
        raise InputError("texts, repeats and batch size must each be at least 1")
    rows, text_source = _source_rows(options)
    with tempfile.TemporaryDirectory(prefix="humanorai-bench-") as scratch:
        root = Path(scratch)
        tokenizers, models = _build_bundle(options, root, rows)
        needed = max(options.texts, options.batch_size)
        with stage(f"Joining {needed} texts of about {options.max_length} tokens"):
            texts = long_texts(rows, list(tokenizers.values()), options.max_length, needed, options.seed)
        singles, batch = texts[:options.texts], texts[:options.batch_size]
        original = _run_original(root, singles, batch, options)
        engine, raw_member_sum_ms, backends = _run_engine(root, singles, batch, options)
    stages = list(original.timings_ms)
    classical = [name for name in original.p_human[0] if name not in tokenizers]
    return BenchResult(
        cpu=cpu_model(), cores=os.cpu_count() or 1, size=options.size, models=models, engine_backends=backends,
        text_source=text_source,
        median_tokens={name: int(statistics.median(len(tokenizer(text)["input_ids"]) for text in singles))
                       for name, tokenizer in tokenizers.items()},
        texts=len(singles), repeats=options.repeats,
        original_ms={name: statistics.median(original.timings_ms[name]) for name in stages},
        engine_ms={name: statistics.median(engine.timings_ms[name]) for name in stages},
        raw_member_sum_ms=statistics.median(raw_member_sum_ms),
        throughput=Throughput(len(batch), original.batch_sample, original.batch_texts_per_s,
                              engine.batch_texts_per_s),
        h2o_max_difference=_max_difference(original, engine, classical),
        transformer_max_difference={name: _max_difference(original, engine, [name]) for name in tokenizers},
    )


def render_markdown(result: BenchResult) -> str:
    """The side-by-side table of the original guide, then throughput, overhead, parity and targets."""
    sizes = "BERT-base / RoBERTa-base-sized" if result.size == "base" else "tiny test-sized"
    throughput = result.throughput
    sample = (f" (extrapolated from {throughput.original_sample} of the {throughput.batch_size} texts)"
              if throughput.extrapolated else "")
    speedup = result.ratio("total")
    parity = "; ".join(result.parity_failures) or "ok"
    lines = [
        f"- CPU: {result.cpu}, {result.cores} cores.",
        f"- Transformers: {sizes}, random weights (speed does not depend on the weight values): "
        + "; ".join(f"{name} {shape}" for name, shape in result.models.items()) + ".",
        f"- Texts: {result.texts} single texts × {result.repeats} repeats, median tokens "
        + ", ".join(f"{name} {tokens}" for name, tokens in result.median_tokens.items())
        + f"; from {result.text_source}.",
        "- Original path: per request and sequentially, a fresh dense H2OFrame per H2O model scored in an H2O "
        "cluster, then PyTorch FP32 with truncation. Engine: TF-IDF once, members concurrently, "
        + ", ".join(f"{name} {backend}" for name, backend in result.engine_backends.items()) + ".",
        "",
        "| stage | original ms | engine ms | ratio |",
        "|---|---|---|---|",
        *(f"| {_STAGE_LABELS.get(name, name)} | {_ms(result.original_ms[name])} | {_ms(result.engine_ms[name])} "
          f"| {_times(result.ratio(name))} |" for name in result.original_ms),
        "",
        f"- Batch of {throughput.batch_size} texts: original {throughput.original_texts_per_s:.3g} texts/s{sample}, "
        f"engine {throughput.engine_texts_per_s:.3g} texts/s: {_times(throughput.ratio)}.",
        f"- Sum of raw member inference times (TF-IDF, then each member's `predict_proba`, one after another): "
        f"{_ms(result.raw_member_sum_ms)} ms; engine wall time: {_ms(result.engine_ms['total'])} ms; engine "
        f"overhead {result.overhead_percent:+.1f} % (below zero where concurrent members beat the sum).",
        f"- Parity, largest |Δp_human| over the single texts: H2O members {result.h2o_max_difference:.1e} "
        f"(tolerance {H2O_TOLERANCE:g}); "
        + ", ".join(f"{name} {difference:.1e}" for name, difference in result.transformer_max_difference.items())
        + f" (PyTorch FP32 vs engine, tolerance {TRANSFORMER_TOLERANCE:g}): {parity}.",
        f"- Targets: five-member verdict ≥ {SPEEDUP_TARGET:g}x faster than the original: "
        f"{_met(speedup >= SPEEDUP_TARGET)} ({_times(speedup)}); engine overhead ≤ {OVERHEAD_TARGET_PERCENT:g} %: "
        f"{_met(result.overhead_percent <= OVERHEAD_TARGET_PERCENT)} ({result.overhead_percent:+.1f} %).",
    ]
    return "\n".join(lines) + "\n"


_STAGE_LABELS = {"tfidf": "TF-IDF (original: + a dense H2OFrame per model)", "total": "total: five-member verdict"}


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _times(ratio: float) -> str:
    return f"{ratio:.0f}x" if ratio >= 100 else f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x"


def _met(met: bool) -> str:
    return "met" if met else "MISSED"


class OriginalTransformer:
    """The original app's transformer call: tokenise with truncation, PyTorch FP32 forward, softmax."""

    def __init__(self, folder: Path, max_length: int) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(folder)
        self._model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
        self._max_length = max_length

    def p_human(self, text: str) -> float:
        import torch

        inputs = self._tokenizer(text, return_tensors="pt", truncation=True, max_length=self._max_length)
        with torch.no_grad():
            logits = self._model(**inputs).logits
        return float(torch.softmax(logits, dim=-1)[0, HUMAN])


#: Scores one text: ``p_human`` per member and ms per stage (``total`` included).
_Scorer = Callable[[str], tuple[dict[str, float], dict[str, float]]]


@dataclass
class _PathRun:
    """What one path measured: stage → ms samples, ``p_human`` per single text, batch throughput."""

    timings_ms: dict[str, list[float]]
    p_human: list[dict[str, float]]
    batch_sample: int = 0
    batch_texts_per_s: float = 0.0


def _source_rows(options: BenchSettings) -> tuple[list[tuple[str, str]], str]:
    """(text, source) rows to join into long texts, and where they come from (for the output)."""
    if options.corpus is None:
        needed = max(options.texts, options.batch_size) * (options.max_length // 40 + 2)
        return generated_rows(needed, options.seed), "generated English-like text (no corpus given)"
    frame, _ = read_table(options.corpus)
    if "text" not in frame.columns:
        raise InputError(f"{options.corpus}: no 'text' column")
    sources = frame["source"] if "source" in frame.columns else [""] * len(frame)
    rows = [(str(text), str(source)) for text, source in zip(frame["text"], sources, strict=True) if str(text).strip()]
    return rows, f"{options.corpus.name} (consecutive texts of one source joined)"


def _build_bundle(options: BenchSettings, root: Path,
                  rows: list[tuple[str, str]]) -> tuple[dict[str, PreTrainedTokenizerFast], dict[str, str]]:
    """Write into ``root`` a bundle of the classical members of ``options.bundle`` (linked, not copied) and
    two random-weight transformers; return their tokenizers and shapes by member name."""
    source = read_manifest(options.bundle)
    classical = [entry for entry in source.members if entry.kind == H2OFamily.kind]
    if not classical:
        raise BundleError(f"{options.bundle}: no H2O members ({', '.join(H2OFamily.members)}) to benchmark")
    for relative in [*source.shared_files, *(path for entry in classical for path in entry.files)]:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).symlink_to((options.bundle / relative).resolve())
    import torch

    texts = [normalize(text, RAW) for text, _ in rows]
    torch.manual_seed(options.seed)
    # Without the bundle's calibration: the original app had none, and parity compares the models themselves.
    entries = [replace(entry, calibration=None) for entry in classical]
    tokenizers: dict[str, PreTrainedTokenizerFast] = {}
    models: dict[str, str] = {}
    for member in TransformerFamily.members:
        model, tokenizers[member] = random_classifier(member, options.size, texts, options.max_length)
        entries.append(save_member(member, model, tokenizers[member], root, options.max_length,
                                   f"random:{options.size}"))
        models[member] = shape_of(model, tokenizers[member])
    write_manifest(root, Manifest(
        bundle_id=f"bench-{source.bundle_id}", created=datetime.now(UTC).isoformat(timespec="seconds"),
        preprocessing=source.preprocessing, members=entries, shared_files=source.shared_files,
        ensemble={"method": "majority"}, training={"transformers": f"{options.size} size, random weights"},
        command="python -m benchmarks.end_to_end",
    ))
    return tokenizers, models


def _run_original(root: Path, singles: list[str], batch: list[str], options: BenchSettings) -> _PathRun:
    """Time the original path: H2OFrames in a cluster of our own, then PyTorch FP32, one text at a time."""
    manifest = read_manifest(root)
    with contextlib.ExitStack() as cluster:
        with stage("Starting H2O for the original path"):
            cluster.enter_context(h2o_cluster())
        with stage("Loading the original path (MOJOs imported into H2O, PyTorch FP32)"):
            classical = OriginalH2O(root, manifest, FeatureSet.load(root, manifest.preprocessing))
            transformers = {entry.name: OriginalTransformer(root / entry.options["folder"], options.max_length)
                            for entry in manifest.members if entry.kind == TransformerFamily.kind}

        def score(text: str) -> tuple[dict[str, float], dict[str, float]]:
            started = time.perf_counter()
            p_human, timings_ms = classical.predict(text)
            for name, model in transformers.items():
                member_started = time.perf_counter()
                p_human[name] = model.p_human(text)
                timings_ms[name] = _ms_since(member_started)
            timings_ms["total"] = _ms_since(started)
            return p_human, timings_ms

        with stage(f"Original path: {len(singles)} texts × {options.repeats}"):
            run = _time_singles(score, singles, options.repeats)
        seconds_per_text = statistics.median(run.timings_ms["total"]) / 1000.0
        run.batch_sample = max(1, min(len(batch), int(options.original_batch_budget_s / seconds_per_text)))
        with stage(f"Original path: {run.batch_sample} of a batch of {len(batch)} texts, one by one"):
            run.batch_texts_per_s = _texts_per_s(lambda texts: [score(text) for text in texts],
                                                 batch[:run.batch_sample])
    return run


def _run_engine(root: Path, singles: list[str], batch: list[str],
                options: BenchSettings) -> tuple[_PathRun, list[float], dict[str, str]]:
    """Time the engine per text and on the batch, and the raw sum of its members on the same texts."""
    engine = Engine.load(root, options.transformers, EngineSettings(cache_size=0))
    try:
        if engine.unavailable:
            raise BundleError(f"the benchmark bundle did not load fully: {engine.unavailable}")
        tfidf = features_of(engine.context)

        def score(text: str) -> tuple[dict[str, float], dict[str, float]]:
            started = time.perf_counter()
            prediction = engine.predict([text])[0]
            timings_ms = {**prediction.timings_ms, "total": _ms_since(started)}
            return {vote.member: vote.p_human for vote in prediction.votes}, timings_ms

        def members_one_by_one(text: str) -> float:
            started = time.perf_counter()
            batch_of_one = TextBatch([text])
            tfidf_matrix(batch_of_one, tfidf)
            for member in engine.members:
                member.predict_proba(batch_of_one)
            return _ms_since(started)

        with stage(f"Engine: {len(singles)} texts × {options.repeats}"):
            run = _time_singles(score, singles, options.repeats)
        with stage(f"Members called one after another: {len(singles)} texts × {options.repeats}"):
            members_one_by_one(singles[0])
            raw_sum_ms = [members_one_by_one(text) for _ in range(options.repeats) for text in singles]
        with stage(f"Engine: a batch of {len(batch)} texts"):
            run.batch_sample = len(batch)
            run.batch_texts_per_s = _texts_per_s(engine.predict, batch)
        return run, raw_sum_ms, engine.describe_members()
    finally:
        engine.close()


def _time_singles(score: _Scorer, texts: list[str], repeats: int) -> _PathRun:
    """Score each text ``repeats`` times after one warm-up; ``p_human`` is kept from the last repeat."""
    score(texts[0])
    run = _PathRun(timings_ms={}, p_human=[])
    for repeat in range(repeats):
        for text in texts:
            p_human, timings_ms = score(text)
            for name, value in timings_ms.items():
                run.timings_ms.setdefault(name, []).append(value)
            if repeat == repeats - 1:
                run.p_human.append(p_human)
    return run


def _texts_per_s(score_all: Callable[[list[str]], object], texts: list[str]) -> float:
    started = time.perf_counter()
    score_all(texts)
    return len(texts) / (time.perf_counter() - started)


def _max_difference(original: _PathRun, engine: _PathRun, members: list[str]) -> float:
    return max(abs(reference[name] - scored[name])
               for reference, scored in zip(original.p_human, engine.p_human, strict=True) for name in members)


def _ms_since(started: float) -> float:
    return 1000.0 * (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path,
                        help="bundle whose DRF, GBM and GLM are measured (default: HUMANORAI_BUNDLE, else models/demo)")
    parser.add_argument("--corpus", type=Path,
                        help=f"CSV/JSONL whose texts are joined into ~512-token texts (default: {DEFAULT_CORPUS} "
                             "when present, else generated text)")
    parser.add_argument("--size", choices=get_args(Size), default="base",
                        help="transformer size: base (BERT-base/RoBERTa-base) or tiny")
    parser.add_argument("--texts", type=int, default=BenchSettings.texts, help="single texts timed one by one")
    parser.add_argument("--repeats", type=int, default=BenchSettings.repeats, help="times each single text is scored")
    parser.add_argument("--batch-size", type=int, default=BenchSettings.batch_size,
                        help="texts in the throughput batch")
    parser.add_argument("--max-length", type=int, default=BenchSettings.max_length,
                        help="tokens per text and transformer window")
    parser.add_argument("--seed", type=int, default=BenchSettings.seed, help="seed for picking and joining texts")
    parser.add_argument("--original-batch-budget", type=float, default=BenchSettings.original_batch_budget_s,
                        help="seconds the original path may spend on the batch before the rest is extrapolated")
    parser.add_argument("--backend", choices=get_args(Backend), default="auto", help="the engine's transformer backend")
    parser.add_argument("--precision", choices=get_args(Precision), default="auto",
                        help="int8/fp32 (onnx), bf16/fp32 (openvino), fp16/fp32 (torch)")
    parser.add_argument("--out", type=Path, help="also write the Markdown result to this file")
    args = parser.parse_args()
    corpus = args.corpus
    if corpus is None and DEFAULT_CORPUS.is_file():
        corpus = DEFAULT_CORPUS
    try:
        result = run_bench(BenchSettings(
            bundle=args.bundle or default_bundle(), corpus=corpus, size=args.size, texts=args.texts,
            repeats=args.repeats, batch_size=args.batch_size, max_length=args.max_length, seed=args.seed,
            original_batch_budget_s=args.original_batch_budget,
            transformers=TransformerSettings(backend=args.backend, precision=args.precision, device="cpu")))
    except (HumanoraiError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    markdown = render_markdown(result)
    print(markdown)
    if args.out is not None:
        args.out.write_text(markdown, encoding="utf-8")
    if result.parity_failures:
        print(f"the paths disagree: {'; '.join(result.parity_failures)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
