"""What member loaders get from a verified bundle: its folder, manifest and shared resources.

Shared resources (the TF-IDF vectorizer) are loaded at most once per bundle and only when a member asks
for them, so a bundle of transformers alone never reads TF-IDF files.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from humanorai.bundle import Manifest
from humanorai.members.tfidf import TfidfFeatures

TFIDF_DIR = "tfidf"


class BundleContext:
    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest

    @cached_property
    def tfidf(self) -> TfidfFeatures:
        return TfidfFeatures.load(self.root / TFIDF_DIR)

    @property
    def has_tfidf(self) -> bool:
        return "tfidf" in self.manifest.preprocessing
