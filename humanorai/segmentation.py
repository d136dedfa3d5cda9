"""Cut a text into the segments that segment scores are given for: sentences, grouped to at least
:data:`MIN_SEGMENT_WORDS` words.

The splitter is a rule of our own, tested on its own (``tests/test_segmentation.py``), not a library's:
NLTK's punkt needs a data download and spaCy a model, neither of which a server may fetch, and a segment
of 25+ words forgives the rare wrong cut (an abbreviation the rule does not know only makes a boundary
fall one sentence earlier). The rule, in order:

1. **Paragraphs** end at a blank line (a line break, optional spaces or tabs, a line break).
2. **Sentences** end, within a paragraph, after a run of ``.``, ``!``, ``?`` or ``…`` (with any closing
   quotes or brackets) followed by whitespace, or after the fullwidth ``。``, ``！``, ``？`` (CJK writing puts
   no space after them). A period after a known abbreviation (``Mr.``, ``e.g.``, ``etc.`` …; see
   :data:`ABBREVIATIONS`) or after a single letter (initials, ``U.S.``) does not end a sentence. A line
   break alone does not either: text pasted from a PDF breaks lines mid-sentence.
3. **Long sentences** — over :data:`MAX_SEGMENT_WORDS` words, as in a text with no punctuation at all — are
   cut between words into equal pieces of at most that many words.
4. **Segments** are sentences taken in order until they hold at least :data:`MIN_SEGMENT_WORDS` words; a
   segment closes at the end of a paragraph, or earlier when the rest of its paragraph still holds enough
   words for a segment of its own, so segments follow paragraphs and no short tail is left inside one. A
   paragraph too short for a segment of its own (a heading) joins the segment that follows it; a short last
   paragraph joins the segment before it. A text of fewer words is one segment.

A word is a run of characters other than whitespace, except that each Han or kana character counts as one
word (Chinese and Japanese put no spaces between words) and CJK punctuation counts as none.

Offsets are Python string indices (Unicode code points) into the text exactly as given, before any
normalisation. Each sentence runs to where the next begins — the whitespace after a sentence belongs to
it — so the segments cover the text from 0 to ``len(text)`` in order, without gaps or overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A segment holds at least this many words (unless the whole text holds fewer).
MIN_SEGMENT_WORDS = 25
#: A sentence longer than this is cut into pieces of at most this many words.
MAX_SEGMENT_WORDS = 100
#: Words (lowercase, without their period) after which a period does not end a sentence.
ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "cf", "al", "fig",
    "vol", "pp", "ch", "approx", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
#: CJK and fullwidth punctuation: part of no word (there is no space before it to tell it apart).
_CJK_PUNCTUATION = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20"
_WORD = re.compile(rf"[{_CJK}]|[^\s{_CJK}{_CJK_PUNCTUATION}]+")
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
#: A sentence's end: Latin terminators and closers before whitespace (or the end), or CJK terminators; then
#: the whitespace that follows, which stays with the sentence.
_SENTENCE_END = re.compile(r"(?:[.!?…]+[\"'”’»)\]]*(?=\s|$)|[。！？]+[\"'”’」』)\]）]*)\s*")
_WORD_BEFORE_PERIOD = re.compile(r"(\S+)\.$")


@dataclass(frozen=True)
class Span:
    """``text[start:end]``: a sentence or a segment."""

    start: int
    end: int


def word_count(text: str) -> int:
    """Words as the segment rule counts them (whitespace-separated; one per Han or kana character)."""
    return len(_WORD.findall(text))


def segment_spans(text: str, min_words: int = MIN_SEGMENT_WORDS) -> list[Span]:
    """The segments of ``text`` by the rule of this module: in order, covering ``text`` exactly."""
    sentences = [(paragraph, sentence) for paragraph in _paragraphs(text) for sentence in _sentences(text, paragraph)]
    words = [word_count(text[sentence.start:sentence.end]) for _, sentence in sentences]
    # Words from each sentence to the end of its paragraph, itself included.
    to_paragraph_end = words.copy()
    for index in range(len(sentences) - 2, -1, -1):
        if sentences[index][0] == sentences[index + 1][0]:
            to_paragraph_end[index] += to_paragraph_end[index + 1]
    segments: list[Span] = []
    start = 0
    held = 0
    for index, (paragraph, sentence) in enumerate(sentences):
        held += words[index]
        rest_of_paragraph = to_paragraph_end[index] - words[index]
        if held >= min_words and (sentence.end == paragraph.end or rest_of_paragraph >= min_words):
            segments.append(Span(start, sentence.end))
            start, held = sentence.end, 0
    if start < len(text):  # a short last part joins the segment before it
        segments[-1:] = [Span(segments[-1].start if segments else 0, len(text))]
    return segments


def _paragraphs(text: str) -> list[Span]:
    """Paragraph spans covering ``text``; the blank lines after a paragraph belong to it."""
    ends = [match.end() for match in _PARAGRAPH_BREAK.finditer(text) if 0 < match.end() < len(text)]
    bounds = [0, *ends, len(text)]
    return [Span(start, end) for start, end in zip(bounds, bounds[1:], strict=False) if start < end]


def _sentences(text: str, paragraph: Span) -> list[Span]:
    """Sentence spans covering ``paragraph``, long ones cut (rules 2 and 3)."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text, paragraph.start, paragraph.end)
            if paragraph.start < match.end() < paragraph.end and not _after_abbreviation(text, match.start())]
    bounds = [paragraph.start, *ends, paragraph.end]
    return [piece for start, end in zip(bounds, bounds[1:], strict=False) if start < end
            for piece in _cut_long(text, Span(start, end))]


def _after_abbreviation(text: str, terminator: int) -> bool:
    """Whether the terminator at ``terminator`` is a single period after an abbreviation or an initial."""
    if text[terminator] != "." or text[terminator + 1:terminator + 2] == ".":
        return False
    match = _WORD_BEFORE_PERIOD.search(text, max(0, terminator - 20), terminator + 1)
    if match is None:
        return False
    word = match.group(1).lstrip("\"'“‘([").lower()
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or bool(re.fullmatch(r"(?:\w\.)+\w", word))


def _cut_long(text: str, sentence: Span) -> list[Span]:
    """``sentence``, or equal pieces of it of at most :data:`MAX_SEGMENT_WORDS` words, cut before a word."""
    starts = [match.start() for match in _WORD.finditer(text, sentence.start, sentence.end)]
    pieces = -(-len(starts) // MAX_SEGMENT_WORDS)
    if pieces <= 1:
        return [sentence]
    size = -(-len(starts) // pieces)
    bounds = [sentence.start, *(starts[index] for index in range(size, len(starts), size)), sentence.end]
    return [Span(start, end) for start, end in zip(bounds, bounds[1:], strict=False)]
