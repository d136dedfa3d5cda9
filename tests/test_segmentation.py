"""The segment splitter: offsets that slice the text exactly and cover it, and the rule's cuts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from humanorai.segmentation import MAX_SEGMENT_WORDS, MIN_SEGMENT_WORDS, Span, segment_spans, word_count

#: Pieces texts are built from: words, sentence ends, abbreviations, quotes, CJK, and every kind of space.
PIECES = st.sampled_from([
    "word", "The", "e.g.", "Dr.", "U.S.", "3.14", "end.", "why?", "so!", "wait…", "“quoted.”", "(aside.)",
    "漢字", "文です。", "本当？", "😀", "\u00a0", " ", "  ", "\t", "\n", "\n\n", "\n \n", "\r\n", "\u2028",
])
TEXTS = st.lists(PIECES, min_size=1, max_size=400).map(" ".join) | st.text(min_size=1, max_size=600)


def sentences(count: int, words: int = 10) -> str:
    return " ".join(" ".join(["word"] * (words - 1)) + " end." for _ in range(count))


def assert_covers(text: str, spans: list[Span]) -> None:
    """In order, from 0 to len(text), each starting where the previous ended, none empty."""
    assert spans[0].start == 0 and spans[-1].end == len(text)
    for before, after in zip(spans, spans[1:], strict=False):
        assert before.end == after.start
    assert all(span.start < span.end for span in spans)
    assert "".join(text[span.start:span.end] for span in spans) == text


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_segments_slice_the_text_exactly_and_cover_it_without_overlap(text: str) -> None:
    spans = segment_spans(text)
    assert_covers(text, spans)
    if word_count(text) >= MIN_SEGMENT_WORDS:  # a text long enough has only segments long enough
        assert all(word_count(text[span.start:span.end]) >= MIN_SEGMENT_WORDS for span in spans)


@pytest.mark.parametrize("text", [
    sentences(12),
    sentences(12) + "  \n\n \t",  # trailing whitespace
    "  \n" + sentences(6),  # leading whitespace
    " ".join(["word"] * 400),  # no sentence punctuation at all
    "This one sentence goes on " + "and on " * 150 + "until it ends.",  # a single long sentence
    "これは日本語の文です。" * 40,  # CJK: no spaces, fullwidth full stops
    "这是一个没有标点的很长的中文句子" * 30,  # CJK without punctuation
    "Short.",
])
def test_varied_texts_are_covered(text: str) -> None:
    assert_covers(text, segment_spans(text))


def test_sentences_are_grouped_to_at_least_the_minimum_words() -> None:
    text = sentences(9)  # nine sentences of 10 words
    spans = segment_spans(text)
    assert [word_count(text[span.start:span.end]) for span in spans] == [30, 30, 30]
    assert all(text[span.start:span.end].rstrip().endswith("end.") for span in spans)


def test_segments_follow_paragraphs_and_a_heading_joins_what_follows() -> None:
    first, second = sentences(3), sentences(4)
    text = f"A Heading\n\n{first}\n\n{second}\n\nThe end."
    spans = segment_spans(text)
    assert [text[span.start:span.end] for span in spans] == [f"A Heading\n\n{first}\n\n", f"{second}\n\nThe end."]


def test_a_paragraph_keeps_no_short_tail_and_a_short_last_paragraph_joins_the_segment_before() -> None:
    text = sentences(5)  # 30 + 20 words: the 20 stay with the 30
    assert [text[span.start:span.end] for span in segment_spans(text)] == [text]
    text = sentences(3) + "\n\n" + sentences(2)
    assert [text[span.start:span.end] for span in segment_spans(text)] == [text]


def test_abbreviations_initials_and_decimals_do_not_end_a_sentence() -> None:
    start = " ".join(["word"] * 30)  # a cut after it would leave two segments
    for middle in ("Dr. Smith", "e.g. this", "the U.S. economy", "J. R. Tolkien", "pi is 3.14 so", "etc. and"):
        text = f"{start} {middle} " + " ".join(["more"] * 30) + "."
        assert len(segment_spans(text)) == 1, middle
    text = f"{start} it ended. " + " ".join(["more"] * 30) + "."
    assert len(segment_spans(text)) == 2


def test_line_breaks_inside_a_paragraph_do_not_end_a_sentence() -> None:
    text = " ".join(["word"] * 30) + "\n" + " ".join(["more"] * 10) + ". " + sentences(3)
    assert text[:segment_spans(text)[0].end].endswith("more. ")


def test_a_text_without_punctuation_is_cut_between_words() -> None:
    text = " ".join(f"w{index}" for index in range(250))
    spans = segment_spans(text)
    assert [word_count(text[span.start:span.end]) for span in spans] == [84, 84, 82]
    assert all(text[span.start] == "w" for span in spans)
    assert max(word_count(text[span.start:span.end]) for span in spans) <= MAX_SEGMENT_WORDS


def test_cjk_characters_count_as_words_and_fullwidth_stops_end_sentences() -> None:
    assert word_count("漢字 and かな。") == 5
    text = "これは日本語の文です。" * 12  # 10 counted words per sentence
    spans = segment_spans(text)
    assert [word_count(text[span.start:span.end]) for span in spans] == [30, 30, 30, 30]
    assert all(text[:span.end].endswith("。") for span in spans)


def test_a_short_text_is_one_segment() -> None:
    assert segment_spans("Too short.  ") == [Span(0, 12)]
