"""Segment scores: a segment's label, its score from the members' votes, the mixed rule, and on real
held-out corpus texts, an AI text pasted between human paragraphs marked as such."""

from __future__ import annotations

import numpy as np
import pytest

from humanorai.bundle import read_manifest
from humanorai.evaluation.held_out import held_out_corpus
from humanorai.labels import AI, HUMAN
from humanorai.scoring.engine import Engine
from humanorai.scoring.ensemble import Vote
from humanorai.scoring.segments import (
    MIXED_MARGIN,
    MIXED_WORD_SHARE,
    Segment,
    is_mixed,
    label_word_shares,
    segment_p_human,
)
from humanorai.settings import DEMO_BUNDLE, EngineSettings
from tests.conftest import ROOT

#: Composites (human text, AI text, human text) scored on the demo bundle.
COMPOSITES = 8


def segments(*scores: tuple[float, int]) -> list[Segment]:
    """Consecutive segments of the given (p_human, words)."""
    made, start = [], 0
    for p_human, words in scores:
        made.append(Segment(start, start + 6 * words, p_human, words))
        start += 6 * words
    return made


def test_a_segment_is_human_from_half_up() -> None:
    assert [segment.label for segment in segments((0.5, 30), (0.4999, 30))] == ["HUMAN", "AI"]


def test_a_segment_scores_the_mean_of_its_members() -> None:
    assert segment_p_human([Vote("DRF", 0.2, 0.5), Vote("BERT", 0.6, 0.5)]) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="at least one"):
        segment_p_human([])


def test_only_clear_segments_hold_words_for_their_label() -> None:
    clear_ai, unsure, clear_human = 0.5 - MIXED_MARGIN - 0.01, 0.5, 0.5 + MIXED_MARGIN
    shares = label_word_shares(segments((clear_human, 50), (unsure, 30), (clear_ai, 20)))
    assert shares == pytest.approx((0.5, 0.2))


@pytest.mark.parametrize(("scores", "mixed"), [
    (((0.95, 60), (0.05, 40)), True),  # both labels clear and substantial
    (((0.95, 90), (0.05, 10)), MIXED_WORD_SHARE <= 0.1),  # one sentence the other way
    (((0.95, 60), (0.45, 40)), False),  # the other part is not clear
    (((0.05, 100),), False),  # pure
])
def test_mixed_needs_both_labels_to_hold_a_substantial_share(scores: tuple[tuple[float, int], ...],
                                                             mixed: bool) -> None:
    assert is_mixed(segments(*scores)) is mixed


@pytest.mark.slow
@pytest.mark.corpus
def test_an_ai_text_pasted_between_human_paragraphs_is_marked() -> None:
    corpus = held_out_corpus(read_manifest(DEMO_BUNDLE), ROOT)  # texts the demo bundle never trained on
    rng = np.random.default_rng(7)
    human = rng.permutation(np.flatnonzero(corpus.labels == HUMAN))[:2 * COMPOSITES].reshape(2, -1)
    pasted = rng.permutation(np.flatnonzero(corpus.labels == AI))[:COMPOSITES]
    composites = [[corpus.texts[first], corpus.texts[ai], corpus.texts[second]]
                  for first, ai, second in zip(human[0], pasted, human[1], strict=True)]
    engine = Engine.load(DEMO_BUNDLE, settings=EngineSettings(cache_size=0))
    predictions = engine.predict(["\n\n".join(parts) for parts in composites], segments=True)
    engine.close()
    lowest, ai_words_in_pasted, ai_words_around = 0, [], []
    for parts, prediction in zip(composites, predictions, strict=True):
        assert prediction.segments is not None
        ends = np.cumsum([len(part) + 2 for part in parts])  # each part and the blank line after it
        part_of = [int(np.searchsorted(ends, (s.start + s.end) / 2, side="right")) for s in prediction.segments]
        by_part = [[s for s, part in zip(prediction.segments, part_of, strict=True) if part == index]
                   for index in range(3)]
        means = [np.mean([s.p_human for s in segments]) for segments in by_part]
        lowest += means[1] < min(means[0], means[2])
        ai_words_in_pasted.append(_ai_word_share(by_part[1]))
        ai_words_around.append(_ai_word_share(by_part[0] + by_part[2]))
    assert lowest >= COMPOSITES - 2
    assert np.median(ai_words_in_pasted) >= 0.6 and np.median(ai_words_around) <= 0.4


def _ai_word_share(segments: list[Segment]) -> float:
    return sum(s.words for s in segments if s.prediction == AI) / sum(s.words for s in segments)
