"""OpenVINO static INT8 against PyTorch FP32 on corpus texts: the parity bound of issue 13.

Each transformer of a bundle trained with ``--openvino-int8`` (and without ``--serving-only``, which drops
the FP32 weights) scores the same corpus texts (sampled with a fixed seed) through PyTorch FP32 and through
OpenVINO INT8, windows and all, as serving runs it; their p_human (before any calibration) are compared.
Bounds: |Δp_human| ≤ 0.03 on every text, the same label (at the member's threshold) on ≥ 99 %. Prints a
table, writes JSON with ``--out``, exits 1 when a bound fails; without the corpus file it says so and exits
0, as the tests marked ``corpus`` skip. Usage:
python -m benchmarks.int8_parity --bundle DIR [--corpus CSV] [--texts 400] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmarks.environment import add_corpus_options, cpu_model, sampled_or_skipped
from humanorai.bundle import read_manifest
from humanorai.errors import BundleError
from humanorai.members.base import TextBatch
from humanorai.members.transformer.family import TransformerFamily
from humanorai.scoring.engine import Engine
from humanorai.settings import Backend, EngineSettings, Precision, TransformerSettings

MAX_DIFFERENCE = 0.03
MIN_SAME_LABEL = 0.99


@dataclass(frozen=True)
class Parity:
    """How one member's INT8 p_human compare with its FP32 reference over the texts."""

    member: str
    texts: int
    max_difference: float
    p99_difference: float
    median_difference: float
    same_label: float
    #: Share of texts whose reference p_human is within 0.1 of the threshold, where labels can flip.
    near_threshold: float

    @property
    def passed(self) -> bool:
        return self.max_difference <= MAX_DIFFERENCE and self.same_label >= MIN_SAME_LABEL


def transformers_engine(bundle: Path, backend: Backend, precision: Precision) -> Engine:
    """An engine of ``bundle``'s transformer members alone, on the CPU with ``backend`` and ``precision``."""
    manifest = read_manifest(bundle)
    entries = [entry for entry in manifest.members if entry.kind == TransformerFamily.kind]
    if not entries:
        raise BundleError(f"{bundle}: no transformer members")
    engine = Engine.load(bundle, TransformerSettings(backend=backend, precision=precision, device="cpu"),
                         EngineSettings(cache_size=0), manifest=replace(manifest, members=entries))
    if engine.unavailable:
        engine.close()
        raise BundleError(f"{bundle}: {backend} {precision} did not load: {engine.unavailable}")
    return engine


def member_scores(bundle: Path, backend: Backend, precision: Precision, texts: list[str]) -> dict[str, np.ndarray]:
    """Uncalibrated p_human of each transformer of ``bundle`` on ``texts``, on the CPU."""
    engine = transformers_engine(bundle, backend, precision)
    try:
        return {member.name: member.predict_proba(TextBatch(texts)) for member in engine.members}
    finally:
        engine.close()


def compare(member: str, reference: np.ndarray, int8: np.ndarray, threshold: float) -> Parity:
    difference = np.abs(int8 - reference)
    return Parity(member=member, texts=len(reference), max_difference=float(difference.max()),
                  p99_difference=float(np.quantile(difference, 0.99)), median_difference=float(np.median(difference)),
                  same_label=float(np.mean((int8 >= threshold) == (reference >= threshold))),
                  near_threshold=float(np.mean(np.abs(reference - threshold) <= 0.1)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True, help="trained with --openvino-int8, not --serving-only")
    add_corpus_options(parser, texts=400)
    args = parser.parse_args()
    texts = sampled_or_skipped(args)
    if texts is None:
        return 0
    reference = member_scores(args.bundle, "torch", "fp32", texts)
    int8 = member_scores(args.bundle, "openvino", "int8", texts)
    thresholds = {entry.name: entry.threshold for entry in read_manifest(args.bundle).members}
    results = [compare(name, reference[name], int8[name], thresholds[name]) for name in reference]
    print(f"CPU: {cpu_model()}; {len(texts)} texts of {args.corpus.name}; OpenVINO INT8 vs PyTorch FP32, "
          f"bounds |Δp_human| ≤ {MAX_DIFFERENCE} on every text, same label on ≥ {MIN_SAME_LABEL:.0%}\n")
    print("| member | max |Δp| | p99 |Δp| | median |Δp| | same label | near threshold | passed |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        print(f"| {result.member} | {result.max_difference:.4f} | {result.p99_difference:.4f} | "
              f"{result.median_difference:.4f} | {result.same_label:.2%} | {result.near_threshold:.1%} | "
              f"{'yes' if result.passed else 'no'} |")
    if args.out is not None:
        args.out.write_text(json.dumps({"cpu": cpu_model(), "corpus": str(args.corpus), "texts": len(texts),
                                        "members": [{**vars(result), "passed": result.passed} for result in results]},
                                       indent=2))
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
