"""Segment scores: a segment's label, its score from the members' votes, and the mixed rule."""

from __future__ import annotations

import pytest

from humanorai.scoring.ensemble import Vote
from humanorai.scoring.segments import (
    MIXED_MARGIN,
    MIXED_WORD_SHARE,
    Segment,
    is_mixed,
    label_word_shares,
    segment_p_human,
)


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

