"""``python -m benchmarks.batch``: the batch path and the engine side by side, in a tiny run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.batch import measure, render_markdown
from humanorai.scoring.engine import Engine
from tests.synthetic import make_rows

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_the_options_and_exits_0() -> None:
    result = subprocess.run([sys.executable, "-m", "benchmarks.batch", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for option in ("--bundle", "--corpus", "--texts", "--rounds", "--chunk-size", "--out"):
        assert option in result.stdout


@pytest.mark.slow
def test_both_paths_score_the_same_texts_and_the_share_is_reported(tiny_engine: Engine, tmp_path: Path) -> None:
    texts = [row["text"] for row in make_rows(8, seed=71)]
    result = measure(tiny_engine, texts[2:], texts[:2], rounds=2, scratch=tmp_path, chunk_size=4)
    assert (result.texts, result.rounds, result.chunk_size, result.batch_errors) == (6, 2, 4, 0)
    assert result.engine_texts_per_s > 0 and result.batch_texts_per_s > 0
    assert len(result.shares) == 2 and min(result.shares) <= result.share <= max(result.shares)
    assert set(result.members) == {"DRF", "GBM", "GLM", "BERT", "RoBERTa"}
    markdown = render_markdown(result, Path("corpus.csv"))
    assert "| (a) engine: Engine.predict, all texts in one call |" in markdown and "round by round: " in markdown
    assert "| (b) batch: CSV in, run_batch, JSONL out |" in markdown
    assert "6 texts from corpus.csv, 2 round(s), chunks of 4" in markdown and "target (b) >= 90 % of (a)" in markdown
