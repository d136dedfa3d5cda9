"""``humanorai batch``'s path against the engine called directly, on the same texts, side by side in one run.

(a) the engine: ``Engine.predict`` on all N texts in one call — what scoring alone can reach;
(b) the batch path: the same texts as a CSV file through ``run_batch`` — reading, the limit checks, the
    engine in chunks, the rows, appending and flushing OUT, the progress bar.
Both score with one engine (no cache of votes, so every text is computed each time), loaded once (loading is
not timed) and warmed up on texts outside the sample. Each round times both paths back to back, (a) first in
even rounds and (b) first in odd ones, so that a machine getting busier or quieter favours neither; (b)'s share
of (a) is taken per round and its median reported. Target: (b) at least 90 % of (a)'s texts per second.
Usage: python -m benchmarks.batch [--bundle DIR] [--corpus CSV] [--texts 500] [--rounds 2] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from benchmarks.environment import DEFAULT_CORPUS, corpus_texts, cpu_model, default_bundle
from humanorai.batch.output import read_output
from humanorai.batch.runner import run_batch
from humanorai.errors import HumanoraiError
from humanorai.scoring.engine import Engine
from humanorai.settings import BatchSettings, EngineSettings, TableColumns

#: (b)'s throughput as a share of (a)'s that the batch path should keep.
TARGET_SHARE = 0.90
#: Texts scored before timing, so that neither path pays the first calls' set-up.
WARM_UP_TEXTS = 8


@dataclass(frozen=True)
class BatchBench:
    """One run's numbers."""

    cpu: str
    cores: int
    bundle: str
    #: Member name → how the engine runs it.
    members: dict[str, str]
    texts: int
    rounds: int
    chunk_size: int
    #: Medians over the rounds.
    engine_texts_per_s: float
    batch_texts_per_s: float
    #: (b)'s texts per second over (a)'s, round by round.
    shares: list[float]
    #: Rows of OUT with an error (a text over the limits): they were not scored by (b), so this should be 0.
    batch_errors: int

    @property
    def share(self) -> float:
        return statistics.median(self.shares)


def measure(engine: Engine, texts: list[str], warm_up: list[str], rounds: int, scratch: Path,
            chunk_size: int = BatchSettings.chunk_size) -> BatchBench:
    """Time (a) and (b) on ``texts``, ``rounds`` times each; ``scratch`` holds the CSV and each round's OUT."""
    table = scratch / "texts.csv"
    pd.DataFrame({"id": range(len(texts)), "text": texts}).to_csv(table, index=False)
    engine.predict(warm_up)
    direct: list[float] = []
    batched: list[float] = []
    errors = 0
    for round_number in range(rounds):
        out = scratch / f"round-{round_number}.jsonl"
        settings = BatchSettings(out=out, columns=TableColumns(id="id"), chunk_size=chunk_size)
        for path in ("a", "b") if round_number % 2 == 0 else ("b", "a"):
            started = time.perf_counter()
            if path == "a":
                engine.predict(texts)
            else:
                run_batch(engine, [table], settings)
            (direct if path == "a" else batched).append(len(texts) / (time.perf_counter() - started))
        rows = read_output(out)
        if len(rows) != len(texts):
            raise HumanoraiError(f"{out}: {len(rows)} rows for {len(texts)} texts")
        errors += int(rows["error"].notna().sum())
    return BatchBench(cpu=cpu_model(), cores=os.cpu_count() or 1, bundle=engine.manifest.bundle_id,
                      members=engine.describe_members(), texts=len(texts), rounds=rounds, chunk_size=chunk_size,
                      engine_texts_per_s=statistics.median(direct), batch_texts_per_s=statistics.median(batched),
                      shares=[b / a for a, b in zip(direct, batched, strict=True)], batch_errors=errors)


def render_markdown(result: BatchBench, corpus: Path) -> str:
    members = ", ".join(f"{name} ({how})" for name, how in result.members.items())
    verdict = "met" if result.share >= TARGET_SHARE else "MISSED"
    return "\n".join([
        f"CPU: {result.cpu} ({result.cores} cores); bundle {result.bundle}: {members}",
        f"{result.texts} texts from {corpus.name}, {result.rounds} round(s), chunks of {result.chunk_size}",
        "",
        "| path | texts/s (median) | share of (a) (median of the rounds') |",
        "|---|---|---|",
        f"| (a) engine: Engine.predict, all texts in one call | {result.engine_texts_per_s:.2f} | 100 % |",
        f"| (b) batch: CSV in, run_batch, JSONL out | {result.batch_texts_per_s:.2f} | {100 * result.share:.1f} % |",
        "",
        "(b)'s share of (a) round by round: " + ", ".join(f"{100 * share:.1f} %" for share in result.shares),
        f"rows with an error in (b): {result.batch_errors}; target (b) >= {100 * TARGET_SHARE:.0f} % of (a): "
        f"{verdict}",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, help="bundle folder (default: HUMANORAI_BUNDLE, else models/demo)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="CSV/JSONL with a 'text' column")
    parser.add_argument("--texts", type=int, default=500, help="texts scored by each path")
    parser.add_argument("--rounds", type=int, default=2, help="times each path scores them")
    parser.add_argument("--chunk-size", type=int, default=BatchSettings.chunk_size, help="the batch path's chunks")
    parser.add_argument("--out", type=Path, help="also write the numbers here as JSON")
    args = parser.parse_args()
    if min(args.texts, args.rounds, args.chunk_size) < 1:
        parser.error("--texts, --rounds and --chunk-size must be at least 1")
    try:
        sample = corpus_texts(args.corpus, args.texts + WARM_UP_TEXTS)
        engine = Engine.load(args.bundle or default_bundle(), settings=EngineSettings(cache_size=0))
    except HumanoraiError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    try:
        with tempfile.TemporaryDirectory(prefix="humanorai-bench-batch-") as scratch:
            result = measure(engine, sample[WARM_UP_TEXTS:], sample[:WARM_UP_TEXTS], args.rounds, Path(scratch),
                             args.chunk_size)
    finally:
        engine.close()
    print(render_markdown(result, args.corpus))
    if args.out is not None:
        args.out.write_text(json.dumps({**asdict(result), "share": result.share}, indent=2) + "\n")
    sys.exit(0 if result.batch_errors == 0 else 1)


if __name__ == "__main__":
    main()
