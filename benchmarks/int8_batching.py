"""Does a text's INT8 score depend on the texts scored beside it, and what does running each window alone cost?

ONNX Runtime's dynamic INT8 scales a run's activations by their joint range, so a window's logits moved
with the other windows of its run: a served answer depended on the other requests of its micro-batch, and
the cache kept whichever came first. The members now run each window alone on that backend. This scores
the same corpus texts through each transformer of a bundle both ways, side by side in one run:

- ``served``: the rule the member follows now (on ORT INT8, one window a run);
- ``shared runs``: the former rule (windows of similar length share a run), by wrapping the backend;

each in one call of every text and in calls of ``--batch`` texts, against every text scored by itself.
It reports the largest, 99th-percentile and median |Δp_human| and texts per second. Usage:
python -m benchmarks.int8_batching [--bundle models/demo] [--corpus CSV] [--texts 300] [--batch 32] [--words N]
[--out PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from benchmarks.environment import add_corpus_options, cpu_model, sampled_or_skipped
from benchmarks.int8_parity import transformers_engine
from humanorai.members.base import TextBatch
from humanorai.members.transformer.backends import INT8_DOT_PRODUCT_FLAGS, LogitsBackend, cpu_flags
from humanorai.members.transformer.member import TransformerMember


class SharedRuns:
    """A backend that claims to be batch-invariant, so the member groups windows into runs as it did before."""

    def __init__(self, backend: LogitsBackend) -> None:
        self._backend = backend
        self.description = backend.description
        self.device = backend.device
        self.batch_invariant = True

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self._backend.logits(input_ids, attention_mask)


@dataclass(frozen=True)
class RunRule:
    """One member under one rule for its runs: how far its scores move from each text's own, and its speed."""

    member: str
    rule: str
    #: |Δp_human| of all texts in one call against each text alone: max, 99th percentile, median.
    one_call: tuple[float, float, float]
    #: The same for calls of ``--batch`` texts.
    in_calls: tuple[float, float, float]
    #: Texts per second, the best of two passes of one call of all texts.
    texts_per_s: float


def spread(scores: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    difference = np.abs(scores - reference)
    return float(difference.max()), float(np.quantile(difference, 0.99)), float(np.median(difference))


def measure(member: TransformerMember, rule: str, texts: list[str], batch: int, alone: np.ndarray) -> RunRule:
    """Score ``texts`` in one call (twice, timed) and in calls of ``batch``, against ``alone``."""
    timings, one_call = [], np.empty(0)
    for _ in range(2):
        started = time.perf_counter()
        one_call = member.predict_proba(TextBatch(texts))
        timings.append(time.perf_counter() - started)
    in_calls = np.concatenate([member.predict_proba(TextBatch(texts[start:start + batch]))
                               for start in range(0, len(texts), batch)])
    return RunRule(member=member.name, rule=rule, one_call=spread(one_call, alone), in_calls=spread(in_calls, alone),
                   texts_per_s=len(texts) / min(timings))


def compare_rules(member: TransformerMember, texts: list[str], batch: int) -> list[RunRule]:
    """Both rules for one member; the backend is restored after."""
    alone = np.array([member.predict_proba(TextBatch([text]))[0] for text in texts])
    served = member.backend
    served_rule = "served: shared runs" if served.batch_invariant else "served: one window a run"
    results = [measure(member, served_rule, texts, batch, alone)]
    member.backend = SharedRuns(served)
    try:
        results.append(measure(member, "shared runs", texts, batch, alone))
    finally:
        member.backend = served
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=Path("models/demo"))
    add_corpus_options(parser, texts=300)
    parser.add_argument("--batch", type=int, default=32, help="texts per call, as train's report scores them")
    parser.add_argument("--backend", default="onnx", choices=["onnx", "openvino"])
    parser.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    parser.add_argument("--words", type=int, help="keep each text's first N words (segments are 25 or more)")
    args = parser.parse_args()
    texts = sampled_or_skipped(args)
    if texts is None:
        return 0
    if args.words is not None:
        texts = [" ".join(text.split()[:args.words]) for text in texts]
    engine = transformers_engine(args.bundle, args.backend, args.precision)
    try:
        members = [member for member in engine.members if isinstance(member, TransformerMember)]
        results = [result for member in members for result in compare_rules(member, texts, args.batch)]
        descriptions = {member.name: member.description for member in members}
    finally:
        engine.close()
    dot_products = sorted(cpu_flags() & INT8_DOT_PRODUCT_FLAGS)
    print(f"CPU: {cpu_model()} (INT8 dot products: {', '.join(dot_products) or 'none'}); {len(texts)} texts of "
          f"{args.corpus.name}; {args.bundle}; |Δp_human| against each text scored alone\n")
    print(f"| member | backend | runs | one call: max / p99 / median | calls of {args.batch}: max / p99 / median "
          "| texts/s |")
    print("|---|---|---|---|---|---|")
    for result in results:
        print(f"| {result.member} | {descriptions[result.member]} | {result.rule} | "
              f"{' / '.join(f'{value:.4f}' for value in result.one_call)} | "
              f"{' / '.join(f'{value:.4f}' for value in result.in_calls)} | {result.texts_per_s:.1f} |")
    if args.out is not None:
        report = {"cpu": cpu_model(), "int8_dot_products": dot_products, "bundle": str(args.bundle),
                  "corpus": str(args.corpus), "texts": len(texts), "words": args.words, "batch": args.batch,
                  "backends": descriptions, "results": [asdict(result) for result in results]}
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
