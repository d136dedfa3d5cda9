"""The label convention, defined once: 1 = HUMAN, 0 = AI (as in the original app)."""

from __future__ import annotations

HUMAN = 1
AI = 0
LABEL_MAP: dict[int, str] = {HUMAN: "HUMAN", AI: "AI"}

_LABEL_WORDS = {"1": HUMAN, "0": AI, "human": HUMAN, "ai": AI, "1.0": HUMAN, "0.0": AI}


def parse_label(value: object) -> int:
    """Read a label written as 1/0, 1.0/0.0 or HUMAN/AI (any case); raise ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"label {value!r} is a boolean; use 1/0 or HUMAN/AI")
    key = str(value).strip().lower()
    if key not in _LABEL_WORDS:
        raise ValueError(f"label {value!r} is not one of 1, 0, HUMAN, AI")
    return _LABEL_WORDS[key]


def label_name(prediction: int) -> str:
    return LABEL_MAP[prediction]
