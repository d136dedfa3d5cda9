"""What every benchmark reports and reads by default: the machine's CPU, the bundle and the corpus.

Light on purpose (no model library is imported), so each benchmark's ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

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
