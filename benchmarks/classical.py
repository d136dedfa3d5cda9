"""Per-text latency of a bundle's H2O members (TF-IDF + DRF, GBM, GLM), three ways, in one run.

(a) the original app: a fresh 1 × n-features H2OFrame (from a dense pandas frame) per model per request;
(b) the original's "optimised" path: one H2OFrame with ``column_types`` shared by the models' predicts;
(c) humanorai: TF-IDF once, the MOJOs scored in process (no cluster, no frame), by an engine that loads
    only the bundle's H2O members, so a five-member bundle's transformers are neither loaded nor timed.

(a) and (b) run on a local H2O cluster into which the bundle's own MOJOs are imported
(``h2o.import_mojo``), so all three paths score the very same models, without the bundle's calibration
(the original app had none); the run checks member by member that (b) and (c) agree.
Usage: python -m benchmarks.classical --bundle DIR [--corpus CSV] [--texts 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.environment import DEFAULT_CORPUS, corpus_texts, cpu_model, default_bundle
from humanorai.bundle import Manifest, read_manifest
from humanorai.errors import BundleError, HumanoraiError
from humanorai.members.h2o.cluster import h2o, h2o_cluster
from humanorai.members.h2o.family import H2OFamily, features_of
from humanorai.members.h2o.features import FeatureSet
from humanorai.members.h2o.train import predict_via_h2oframe
from humanorai.scoring.engine import Engine
from humanorai.settings import EngineSettings

#: Allowed difference of a member's ``p_human`` between an H2OFrame path and its MOJO in process.
H2O_TOLERANCE = 1e-6
#: Targets: the in-process path per text, and its speed-up over the original's optimised path.
TARGET_MS = 3.0
TARGET_SPEEDUP = 100.0


class OriginalH2O:
    """The original app's H2O members: per request, a fresh dense 1 × n-features H2OFrame for each model.

    The models are the bundle's own MOJOs imported into the connected H2O cluster (``h2o.import_mojo``),
    so this path and the engine score the very same models.
    """

    def __init__(self, bundle: Path, manifest: Manifest, tfidf: FeatureSet) -> None:
        h2o.no_progress()  # H2O draws progress bars on stdout, which holds the results
        self.models = {entry.name: h2o.import_mojo(str(bundle / entry.options["mojo"]))
                       for entry in manifest.members if entry.kind == H2OFamily.kind}
        self._tfidf = tfidf
        self._names = tfidf.feature_names()

    def dense_frame(self, text: str, **kwargs: object) -> h2o.H2OFrame:
        """Upload ``text``'s TF-IDF row as the original did: a dense pandas frame of every feature."""
        return h2o.H2OFrame(pd.DataFrame(self._tfidf.transform([text]).toarray(), columns=self._names), **kwargs)

    def predict(self, text: str) -> tuple[dict[str, float], dict[str, float]]:
        """``p_human`` per model and ms per stage; building the frames counts as the ``tfidf`` stage."""
        p_human: dict[str, float] = {}
        timings_ms = {"tfidf": 0.0}
        for name, model in self.models.items():
            started = time.perf_counter()
            frame = self.dense_frame(text)
            timings_ms["tfidf"] += _ms_since(started)
            started = time.perf_counter()
            p_human[name] = float(predict_via_h2oframe(model, frame)[0])
            h2o.remove(frame)
            timings_ms[name] = _ms_since(started)
        return p_human, timings_ms

    def predict_shared_frame(self, text: str) -> dict[str, float]:
        """``p_human`` per model from one H2OFrame with declared column types, shared by every model."""
        frame = self.dense_frame(text, column_types=["numeric"] * len(self._names))
        p_human = {name: float(predict_via_h2oframe(model, frame)[0]) for name, model in self.models.items()}
        h2o.remove(frame)
        return p_human


def load_h2o_engine(bundle: Path) -> Engine:
    """An engine over only the H2O members of ``bundle``, uncalibrated, without a cache (every call computed)."""
    manifest = read_manifest(bundle)
    entries = [replace(entry, calibration=None) for entry in manifest.members if entry.kind == H2OFamily.kind]
    if not entries:
        raise BundleError(f"{bundle}: no H2O members ({', '.join(H2OFamily.members)}) to benchmark")
    h2o_only = replace(manifest, members=entries, ensemble={"method": "majority"})
    engine = Engine.load(bundle, settings=EngineSettings(cache_size=0), manifest=h2o_only)
    if engine.unavailable:
        engine.close()
        raise BundleError(f"{bundle}: H2O members did not load: {engine.unavailable}")
    return engine


def per_text_ms(score: Callable[[str], object], texts: list[str], repeats: int = 1) -> list[float]:
    """Milliseconds of ``score`` on each text, ``repeats`` times over."""
    timings = []
    for _ in range(repeats):
        for text in texts:
            started = time.perf_counter()
            score(text)
            timings.append(_ms_since(started))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: HUMANORAI_BUNDLE, else models/demo)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="CSV/JSONL with a 'text' column")
    parser.add_argument("--texts", type=int, default=20, help="texts timed one by one")
    args = parser.parse_args()
    if args.texts < 1:
        parser.error("--texts must be at least 1")
    bundle = args.bundle or default_bundle()
    try:
        texts = corpus_texts(args.corpus, args.texts)
        engine = load_h2o_engine(bundle)
    except HumanoraiError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    try:
        agree = run(bundle, args.corpus, texts, engine)
    finally:
        engine.close()
    sys.exit(0 if agree else 1)


def run(bundle: Path, corpus: Path, texts: list[str], engine: Engine) -> bool:
    """Time the three paths on ``texts``, print the Markdown, and say whether (b) and (c) agree per member."""
    names = [member.name for member in engine.members]

    def ours(text: str) -> dict[str, float]:
        return {vote.member: vote.p_human for vote in engine.predict([text])[0].votes}

    for text in texts[:5]:
        ours(text)  # warm-up, as a server is warm after loading
    with h2o_cluster():
        reference = OriginalH2O(bundle, engine.manifest, features_of(engine.context))
        reference.predict(texts[0])  # warm-up of the cluster's models
        median_a = statistics.median(per_text_ms(reference.predict, texts))
        median_b = statistics.median(per_text_ms(reference.predict_shared_frame, texts))
        checked = texts[:5]
        shared_frame = [reference.predict_shared_frame(text) for text in checked]
    in_process = [ours(text) for text in checked]
    difference = {name: max(abs(expected[name] - scored[name]) for expected, scored in zip(shared_frame, in_process,
                                                                                            strict=True))
                  for name in names}
    timings_c = per_text_ms(ours, texts, repeats=10)
    median_c = statistics.median(timings_c)
    stage_medians = {stage: statistics.median(engine.predict([text])[0].timings_ms[stage] for text in texts)
                     for stage in ("tfidf", *names)}
    agree = all(value <= H2O_TOLERANCE for value in difference.values())

    print(f"\nCPU: {cpu_model()} ({os.cpu_count()} cores); bundle {engine.manifest.bundle_id} "
          f"({', '.join(names)}); {len(texts)} texts from {corpus.name}")
    print("| path | median ms per text | ratio to (c) |\n|---|---|---|")
    print(f"| (a) original: fresh H2OFrame per model per request | {median_a:.1f} | {median_a / median_c:.0f}x |")
    print(f"| (b) original optimised: one shared H2OFrame | {median_b:.1f} | {median_b / median_c:.0f}x |")
    print(f"| (c) humanorai: TF-IDF + {len(names)} MOJOs in process | {median_c:.2f} | 1x |")
    print(f"\n(c) p95 {np.percentile(timings_c, 95):.2f} ms; stage medians (ms): "
          + ", ".join(f"{stage} {value:.3f}" for stage, value in stage_medians.items()))
    print(f"largest |p_human| difference between (b) and (c) over {len(checked)} texts: "
          + ", ".join(f"{name} {value:.2e}" for name, value in difference.items())
          + f" (tolerance {H2O_TOLERANCE:g}): {'ok' if agree else 'DISAGREE'}")
    print(f"targets: (c) <= {TARGET_MS:g} ms: {'met' if median_c <= TARGET_MS else 'MISSED'}; "
          f"(b)/(c) >= {TARGET_SPEEDUP:g}x: {'met' if median_b / median_c >= TARGET_SPEEDUP else 'MISSED'}")
    return agree


def _ms_since(started: float) -> float:
    return 1000.0 * (time.perf_counter() - started)


if __name__ == "__main__":
    main()
