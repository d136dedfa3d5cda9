"""The one small interface every ensemble member implements.

Batch-first, like scikit-learn's ``predict_proba``: a member takes a :class:`TextBatch` and returns one
``p_human`` per text. Work that several members need (the TF-IDF matrix of the three H2O members) is
computed once per batch through :meth:`TextBatch.shared`, so adding a sixth member means adding one
module, not editing the others.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class TextBatch:
    """Texts scored together, plus features computed once and shared between members."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)
        self._shared: dict[str, Any] = {}
        self._lock = threading.Lock()
        #: (member name, key) → one value per text, e.g. how many windows a transformer scored.
        self.annotations: dict[tuple[str, str], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.texts)

    def shared(self, key: str, compute: Callable[[list[str]], Any]) -> Any:
        """Return ``compute(texts)``, computed by the first member that asks for ``key``."""
        with self._lock:
            if key not in self._shared:
                self._shared[key] = compute(self.texts)
            return self._shared[key]


    def annotate(self, member: str, key: str, values: np.ndarray) -> None:
        """Attach per-text facts a member wants reported next to its ``p_human``."""
        self.annotations[(member, key)] = values


class Member(ABC):
    """An ensemble member: a name, a decision threshold, and ``predict_proba``."""

    #: Display name used in results and the manifest (``"DRF"``, ``"BERT"``…).
    name: str
    #: ``p_human`` at or above which this member votes HUMAN.
    threshold: float

    @abstractmethod
    def predict_proba(self, batch: TextBatch) -> np.ndarray:
        """Return ``p_human`` for every text of ``batch`` as a float64 array of ``len(batch)``."""
