"""What every benchmark reports and reads by default: the machine's CPU, the bundle and the corpus.

Light on purpose (no model library is imported), so each benchmark's ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

from humanorai.errors import InputError
from humanorai.settings import DEMO_BUNDLE, ServiceSettings

#: The shared corpus, relative to a checkout of the repository (the default of ``--corpus``).
DEFAULT_CORPUS = Path("../shared/data/train_corpus.csv")


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def default_bundle() -> Path:
    """The bundle a benchmark measures when given none: ``HUMANORAI_BUNDLE``, else the demo bundle."""
    return ServiceSettings.from_env().bundle or DEMO_BUNDLE


def traffic_options(description: str | None, clients: int, seconds: float) -> argparse.ArgumentParser:
    """The options of a benchmark that sends HTTP traffic to its own server: bundle, corpus, clients, time."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--clients", type=int, default=clients)
    parser.add_argument("--seconds", type=float, default=seconds)
    return parser


def add_corpus_options(parser: argparse.ArgumentParser, texts: int) -> None:
    """``--corpus``, ``--texts`` (default ``texts``) and ``--out``, as the corpus-sampling benchmarks take them."""
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--texts", type=int, default=texts)
    parser.add_argument("--out", type=Path, help="also write the numbers to this JSON file")


def sampled_or_skipped(args: argparse.Namespace) -> list[str] | None:
    """``args.texts`` texts of ``args.corpus``; None, having said so, where the corpus is not there (as the
    tests marked ``corpus`` skip)."""
    if not args.corpus.is_file():
        print(f"skipped: no corpus at {args.corpus}")
        return None
    return corpus_texts(args.corpus, args.texts)


def corpus_texts(corpus: Path, count: int) -> list[str]:
    """``count`` texts sampled from ``corpus`` (CSV or JSONL with a ``text`` column), the same every run."""
    from humanorai.corpus import read_table  # pandas: only for the benchmarks that sample a corpus

    frame, _ = read_table(corpus)
    if "text" not in frame.columns:
        raise InputError(f"{corpus}: no 'text' column")
    texts = frame["text"].astype(str)
    texts = texts[texts.str.strip() != ""]
    if len(texts) < count:
        raise InputError(f"{corpus}: {len(texts)} texts, fewer than the {count} asked for")
    return [str(text) for text in texts.sample(n=count, random_state=0)]
