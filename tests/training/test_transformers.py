"""The fine-tuning schedule (the training loop itself runs in the session bundle and test_pipeline)."""

from __future__ import annotations

import pytest

from humanorai.errors import TrainingError
from humanorai.training.transformers import FineTuneSettings, warmup_then_decay


def test_the_rate_rises_over_the_warmup_then_decays_to_zero() -> None:
    factor = warmup_then_decay(steps=100, warmup_fraction=0.1)
    rates = [factor(step) for step in range(100)]
    assert rates[:10] == pytest.approx([(step + 1) / 10 for step in range(10)])
    assert rates[10] == 1.0 and rates[55] == pytest.approx(0.5)
    assert all(later < earlier for earlier, later in zip(rates[10:], rates[11:], strict=False))
    assert factor(100) == 0.0


def test_without_warmup_it_is_the_plain_linear_decay() -> None:
    factor = warmup_then_decay(steps=50, warmup_fraction=0.0)
    assert [factor(step) for step in (0, 25, 50)] == [1.0, 0.5, 0.0]


def test_a_warmup_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(TrainingError, match="--warmup"):
        FineTuneSettings(warmup_fraction=1.0)
