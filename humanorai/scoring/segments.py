"""Segment scores: which part of a text looks generated, and whether the text is mixed.

A text is cut into segments by :mod:`humanorai.segmentation` (sentences grouped to at least 25 words).
Each segment is scored as a text of its own, by the *segment members* only: the members whose ROC AUC on
segments of held-out corpus texts is clearly above chance (``experiments/segment_auc.py`` measures it per
bundle; :data:`humanorai.settings.DEFAULT_SEGMENT_MEMBERS` holds the default it chose, and
``HUMANORAI_SEGMENT_MEMBERS`` / ``--segment-members`` override it). A member near chance on short spans
would only pull every segment towards 0.5 or add noise.

A segment's ``p_human`` is the mean of those members' (calibrated) ``p_human``; its label is HUMAN at 0.5
or more. The members' own thresholds and the document's ensemble method are not used: they were chosen for
whole texts.

A text is **mixed** when each label holds at least :data:`MIXED_WORD_SHARE` of its words. A label holds
the words of the segments that are clearly on its side: ``p_human`` at least :data:`MIXED_MARGIN` above
0.5 for HUMAN, that far below it for AI; the words of segments in between count for neither. One segment's
score is noisy (a fifth of the segments of pure texts are on the wrong side of 0.5), so without the margin
a pure text of three segments would often be called mixed; ``experiments/segment_auc.py`` measures the
rule on pure held-out texts and on human texts with an AI text pasted in, and docs/quality.md gives the
numbers behind the two constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from humanorai.labels import AI, HUMAN, label_name
from humanorai.scoring.ensemble import Vote

#: Each label must hold at least this share of a text's words for the text to be called mixed.
MIXED_WORD_SHARE = 0.2
#: In the mixed rule, a segment's words count for its label only when its ``p_human`` is this far from 0.5.
MIXED_MARGIN = 0.2
#: A segment is HUMAN when its ``p_human`` is at least this.
SEGMENT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Segment:
    """``text[start:end]`` of the submitted text (code-point offsets) and its score."""

    start: int
    end: int
    p_human: float
    #: Words by :func:`humanorai.segmentation.word_count`: its weight in the mixed rule.
    words: int

    @property
    def prediction(self) -> int:
        return HUMAN if self.p_human >= SEGMENT_THRESHOLD else AI

    @property
    def label(self) -> str:
        return label_name(self.prediction)


def segment_p_human(votes: Sequence[Vote]) -> float:
    """The segment members' mean ``p_human``."""
    if not votes:
        raise ValueError("a segment score needs at least one member's vote")
    return sum(vote.p_human for vote in votes) / len(votes)


def label_word_shares(segments: Sequence[Segment], margin: float = MIXED_MARGIN) -> tuple[float, float]:
    """The shares of the words in segments clearly HUMAN and clearly AI (``margin`` away from 0.5)."""
    words = sum(segment.words for segment in segments) or 1
    human = sum(segment.words for segment in segments if segment.p_human >= SEGMENT_THRESHOLD + margin)
    ai = sum(segment.words for segment in segments if segment.p_human < SEGMENT_THRESHOLD - margin)
    return human / words, ai / words


def is_mixed(segments: Sequence[Segment], least_share: float = MIXED_WORD_SHARE,
             margin: float = MIXED_MARGIN) -> bool:
    """Whether both labels hold at least ``least_share`` of the words (see the module docstring)."""
    return min(label_word_shares(segments, margin)) >= least_share
