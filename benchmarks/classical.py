"""Per-text latency of the classical members (TF-IDF + DRF + GBM + GLM), three ways, in one run.

(a) the original app: a fresh 1x5000 H2OFrame (from a dense pandas frame) per model per request;
(b) the original's "optimised" path: one H2OFrame with ``column_types`` shared by the three predicts;
(c) humanorai: TF-IDF once, three MOJOs scored in-process (no cluster, no frame).

(a) and (b) run on a local H2O cluster into which the bundle's own MOJOs are imported
(``h2o.import_mojo``), so all three paths score the very same models; the run checks that (b) and (c)
agree. Usage: python benchmarks/classical.py --bundle DIR [--corpus CSV] [--texts 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from humanorai.bench import OriginalH2O, cpu_model
from humanorai.engine import Engine, EngineSettings
from humanorai.members.context import BundleContext
from humanorai.training.h2o_cluster import h2o, h2o_cluster
from humanorai.training.h2o_models import H2O_MEMBERS, predict_via_h2oframe


def median_ms(run: Callable[[str], object], texts: list[str], repeats: int = 1) -> tuple[float, list[float]]:
    timings = []
    for _ in range(repeats):
        for text in texts:
            started = time.perf_counter()
            run(text)
            timings.append(1000.0 * (time.perf_counter() - started))
    return statistics.median(timings), timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/train_corpus.csv"))
    parser.add_argument("--texts", type=int, default=20)
    args = parser.parse_args()

    texts = pd.read_csv(args.corpus)["text"].sample(n=args.texts, random_state=0).tolist()
    engine = Engine.load(args.bundle, settings=EngineSettings(cache_size=0))  # every call computed, none cached
    context = BundleContext(args.bundle, engine.manifest)
    names = context.tfidf.feature_names()

    def ours(text: str) -> float:
        return engine.predict([text])[0].verdict.p_human

    for text in texts[:5]:
        ours(text)  # warm-up, as a server is warm after loading
    with h2o_cluster():
        reference = OriginalH2O(args.bundle, engine.manifest, context.tfidf)

        def original(text: str) -> list[float]:
            return list(reference.predict(text)[0].values())

        def original_optimised(text: str) -> list[float]:
            frame = reference.dense_frame(text, column_types=["numeric"] * len(names))
            results = [float(predict_via_h2oframe(model, frame)[0]) for model in reference.models.values()]
            h2o.remove(frame)
            return results

        original(texts[0])
        median_a, _ = median_ms(original, texts)
        median_b, _ = median_ms(original_optimised, texts)
        disagreement = max(
            abs(reference - vote.p_human)
            for text in texts[:5]
            for reference, vote in zip(original_optimised(text), engine.predict([text])[0].votes, strict=True)
        )
    median_c, timings_c = median_ms(ours, texts, repeats=10)
    stage_medians = {
        stage: statistics.median(engine.predict([text])[0].timings_ms[stage] for text in texts)
        for stage in ("tfidf", *H2O_MEMBERS)
    }

    print(f"\nCPU: {cpu_model()} ({os.cpu_count()} cores), {len(texts)} texts from {args.corpus.name}")
    print("| path | median ms per text | ratio to (c) |\n|---|---|---|")
    print(f"| (a) original: fresh H2OFrame per model per request | {median_a:.1f} | {median_a / median_c:.0f}x |")
    print(f"| (b) original optimised: one shared H2OFrame | {median_b:.1f} | {median_b / median_c:.0f}x |")
    print(f"| (c) humanorai: TF-IDF + 3 MOJOs in process | {median_c:.2f} | 1x |")
    print(f"\n(c) p95 {np.percentile(timings_c, 95):.2f} ms; stage medians (ms): "
          + ", ".join(f"{stage} {value:.3f}" for stage, value in stage_medians.items()))
    print(f"largest |p_human| difference between (b) and (c): {disagreement:.2e}")
    print(f"targets: (c) <= 3 ms: {'met' if median_c <= 3 else 'MISSED'}; "
          f"(b)/(c) >= 100x: {'met' if median_b / median_c >= 100 else 'MISSED'}")


if __name__ == "__main__":
    main()
