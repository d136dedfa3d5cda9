"""Synthetic labelled texts for tests: two overlapping word distributions, so models learn but are not perfect.

HUMAN texts lean on casual words and first-person asides, AI texts on formal connectives; both draw most
words from a shared pool, and a share of each class borrows the other class's style, so probabilities
spread over (0, 1) instead of saturating.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SHARED = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "that",
    "is",
    "for",
    "it",
    "with",
    "as",
    "was",
    "on",
    "be",
    "by",
    "this",
    "are",
    "from",
    "or",
    "at",
    "have",
    "an",
    "not",
    "they",
    "which",
    "one",
    "you",
    "were",
    "all",
    "we",
    "there",
    "been",
    "has",
    "more",
    "if",
    "will",
    "would",
    "about",
    "their",
    "what",
    "so",
    "can",
    "when",
    "who",
    "people",
    "time",
    "world",
    "work",
    "study",
    "city",
    "water",
    "music",
    "game",
    "market",
    "report",
    "data",
    "school",
    "health",
    "team",
]
HUMAN_STYLE = [
    "honestly",
    "kinda",
    "yeah",
    "I",
    "my",
    "lol",
    "guess",
    "pretty",
    "stuff",
    "maybe",
    "really",
    "gonna",
    "anyway",
    "weird",
    "totally",
    "dunno",
    "super",
    "awesome",
    "ok",
    "basically",
    "literally",
    "tbh",
]
AI_STYLE = [
    "furthermore",
    "moreover",
    "additionally",
    "crucial",
    "delve",
    "comprehensive",
    "significant",
    "overall",
    "notably",
    "landscape",
    "leverage",
    "robust",
    "ensure",
    "foster",
    "pivotal",
    "realm",
    "insights",
    "multifaceted",
    "essential",
]
TOPICS = ("sports", "cooking", "finance", "travel", "science", "history")


def make_text(rng: random.Random, human: bool, words: int) -> str:
    style = HUMAN_STYLE if human else AI_STYLE
    if rng.random() < 0.15:  # a share of each class writes like the other
        style = AI_STYLE if human else HUMAN_STYLE
    tokens = []
    for _ in range(words):
        pool = style if rng.random() < 0.18 else SHARED
        tokens.append(rng.choice(pool))
    sentences, start = [], 0
    while start < len(tokens):
        length = rng.randint(6, 14)
        sentence = " ".join(tokens[start : start + length])
        sentences.append(sentence[:1].upper() + sentence[1:] + rng.choice([".", ".", "!", "?"] if human else ["."]))
        start += length
    return " ".join(sentences)


def make_rows(count: int, seed: int = 7) -> list[dict[str, str]]:
    """``count`` rows with text, label (1 = HUMAN, 0 = AI) and a source like ``syn/<topic>/<writer>``."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        human = index % 2 == 0
        topic = TOPICS[(index // 2) % len(TOPICS)]
        rows.append(
            {
                "text": make_text(rng, human, rng.randint(40, 120)),
                "label": "1" if human else "0",
                "source": f"syn/{topic}/{'human' if human else 'model'}",
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
