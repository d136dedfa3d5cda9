"""What segment scores cost: a segmented answer against a plain one for the same 512-token texts, side by
side in one run.

Each text is made of consecutive corpus texts of one source, joined as paragraphs until the bundle's first
transformer tokenizer counts the asked-for tokens, then cut at a token boundary. The engine runs as the
server runs it (micro-batching on) but without a cache, so every call computes everything; each round
scores every text plain and then segmented, after a warm-up, and the ratio of the medians is compared
with the target (a segmented answer within 3x a plain one).

Usage: python -m benchmarks.segments [--bundle DIR] [--corpus CSV] [--texts 5] [--repeats 3] [--tokens 512]
[--segment-members drf,glm]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.environment import DEFAULT_CORPUS, cpu_model, default_bundle
from humanorai.bundle import read_manifest
from humanorai.corpus import read_table
from humanorai.cpus import usable_cpus
from humanorai.errors import BundleError, HumanoraiError, InputError
from humanorai.members.transformer.family import TransformerFamily
from humanorai.scoring.engine import Engine, Prediction
from humanorai.settings import BatchLimits, EngineSettings, names

#: A segmented answer may take at most this many times a plain one.
TARGET_RATIO = 3.0


@dataclass(frozen=True)
class SegmentsBench:
    """What one run measured."""

    cpu: str
    cpus: int
    bundle: str
    members: dict[str, str]
    segment_members: list[str]
    texts: int
    repeats: int
    tokens: int
    segments_per_text: float
    plain_ms: float
    segmented_ms: float

    @property
    def ratio(self) -> float:
        return self.segmented_ms / self.plain_ms

    @property
    def target_met(self) -> bool:
        return self.ratio <= TARGET_RATIO


def run_bench(bundle: Path, corpus: Path, texts: int, repeats: int, tokens: int,
              segment_members: tuple[str, ...] | None = None) -> SegmentsBench:
    long_texts = joined_texts(bundle, corpus, texts, tokens)
    engine = Engine.load(bundle, settings=EngineSettings(cache_size=0, batching=BatchLimits(),
                                                         segment_members=segment_members))
    try:
        engine.predict(long_texts[:1], segments=True)  # warm-up, as a server is warm after loading
        plain: list[float] = []
        segmented: list[float] = []
        segment_counts: list[int] = []
        for _ in range(repeats):
            for text in long_texts:
                plain.append(_timed(engine, text, segments=False)[0])
                milliseconds, prediction = _timed(engine, text, segments=True)
                segmented.append(milliseconds)
                segment_counts.append(len(prediction.segments or ()))
        return SegmentsBench(
            cpu=cpu_model(), cpus=usable_cpus(), bundle=engine.manifest.bundle_id,
            members=engine.describe_members(), segment_members=[member.name for member in engine.segment_members],
            texts=len(long_texts), repeats=repeats, tokens=tokens,
            segments_per_text=statistics.mean(segment_counts), plain_ms=statistics.median(plain),
            segmented_ms=statistics.median(segmented))
    finally:
        engine.close()


def joined_texts(bundle: Path, corpus: Path, count: int, tokens: int) -> list[str]:
    """``count`` texts of ``tokens`` tokens (by the bundle's first transformer tokenizer): consecutive corpus
    texts of one source joined as paragraphs, cut at a token boundary."""
    from transformers import AutoTokenizer

    manifest = read_manifest(bundle)
    entry = next((entry for entry in manifest.members if entry.kind == TransformerFamily.kind), None)
    if entry is None:
        raise BundleError(f"{bundle}: no transformer member whose tokenizer could count {tokens} tokens")
    tokenizer = AutoTokenizer.from_pretrained(bundle / entry.options["folder"])
    frame, _ = read_table(corpus)
    if "text" not in frame.columns:
        raise InputError(f"{corpus}: no 'text' column")
    sources = frame["source"] if "source" in frame.columns else ["corpus"] * len(frame)
    by_source: dict[str, list[str]] = {}
    for text, source in zip(frame["text"], sources, strict=True):
        if isinstance(text, str) and text.strip():
            by_source.setdefault(str(source), []).append(text.strip())
    joined: list[str] = []
    for paragraphs in by_source.values():
        taken: list[str] = []
        for paragraph in paragraphs:
            taken.append(paragraph)
            encoded = tokenizer("\n\n".join(taken), add_special_tokens=False, return_offsets_mapping=True,
                                verbose=False)
            if len(encoded["input_ids"]) >= tokens:
                joined.append("\n\n".join(taken)[:encoded["offset_mapping"][tokens - 1][1]])
                taken = []
                if len(joined) == count:
                    return joined
    raise InputError(f"{corpus}: only {len(joined)} texts of {tokens} tokens can be joined; ask for fewer")


def render_markdown(result: SegmentsBench) -> str:
    return "\n".join([
        f"CPU: {result.cpu} ({result.cpus} usable); bundle {result.bundle}: "
        + ", ".join(f"{name} ({how})" for name, how in result.members.items()),
        f"{result.texts} texts of {result.tokens} tokens x {result.repeats} rounds; {result.segments_per_text:.1f} "
        f"segments per text, scored by {', '.join(result.segment_members)}",
        "",
        "| answer | median ms per text | ratio to plain |",
        "|---|---|---|",
        f"| plain | {result.plain_ms:.1f} | 1x |",
        f"| with segments | {result.segmented_ms:.1f} | {result.ratio:.2f}x |",
        "",
        f"target: a segmented answer within {TARGET_RATIO:g}x a plain one: {'met' if result.target_met else 'MISSED'}",
    ])


def _timed(engine: Engine, text: str, segments: bool) -> tuple[float, Prediction]:
    """Milliseconds to answer ``text``, and the answer."""
    started = time.perf_counter()
    (prediction,) = engine.predict([text], segments=segments)
    return 1000.0 * (time.perf_counter() - started), prediction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: HUMANORAI_BUNDLE, else models/demo)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="CSV/JSONL with a 'text' column")
    parser.add_argument("--texts", type=int, default=5, help="texts timed")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the texts")
    parser.add_argument("--tokens", type=int, default=512, help="tokens per text")
    parser.add_argument("--segment-members", type=names,
                        help="comma-separated members that score segments (default: the engine's)")
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON to this file")
    args = parser.parse_args()
    if min(args.texts, args.repeats, args.tokens) < 1:
        parser.error("--texts, --repeats and --tokens must be at least 1")
    try:
        result = run_bench(args.bundle or default_bundle(), args.corpus, args.texts, args.repeats, args.tokens,
                           args.segment_members)
    except (HumanoraiError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(render_markdown(result))
    if args.out is not None:
        args.out.write_text(json.dumps({**asdict(result), "ratio": result.ratio, "target_ratio": TARGET_RATIO,
                                        "target_met": result.target_met}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
