"""Compare TF-IDF text normalisations by validation ROC AUC on the shared corpus.

Validation is grouped by domain (the second part of `source`): each fold holds out whole domains, so
paired human/AI rewrites of one passage never sit on both sides. The classifier is a logistic regression
on the same TF-IDF (5000 features, 1-2-grams) that `humanorai train` fits; the chosen spec becomes
`humanorai.text.TFIDF_DEFAULT`. Usage: python experiments/tfidf_normalization.py [CSV]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

from humanorai.members.h2o.features import TfidfFeatures, TfidfParams
from humanorai.text import NormalizationSpec

CANDIDATES = {
    "lower, punctuation split": NormalizationSpec(lowercase=True, punctuation="split"),
    "case kept, punctuation split": NormalizationSpec(lowercase=False, punctuation="split"),
    "lower, punctuation stripped": NormalizationSpec(lowercase=True, punctuation="strip"),
    "lower, stripped, lemmatised (original training)": NormalizationSpec(
        lowercase=True, punctuation="strip", lemmatize=True
    ),
    "lower, split, lemmatised": NormalizationSpec(lowercase=True, punctuation="split", lemmatize=True),
}


def main(corpus: Path) -> None:
    frame = pd.read_csv(corpus)
    texts = frame["text"].tolist()
    labels = frame["label"].to_numpy()
    domains = frame["source"].str.split("/").str[1].to_numpy()
    folds = list(GroupKFold(n_splits=5).split(texts, labels, domains))
    print(f"{len(texts)} texts, {len(set(domains))} domains, 5 folds grouped by domain\n")
    print("| normalisation | mean AUC | std | min AUC | paired Δ vs first (mean ± std) | transform ms/text |")
    print("|---|---|---|---|---|---|")
    baseline: list[float] | None = None
    for name, spec in CANDIDATES.items():
        aucs = []
        for train_index, valid_index in folds:
            features = TfidfFeatures.fit([texts[i] for i in train_index], TfidfParams(normalization=spec))
            model = LogisticRegression(C=4.0, max_iter=2000)
            model.fit(features.transform([texts[i] for i in train_index]), labels[train_index])
            scores = model.predict_proba(features.transform([texts[i] for i in valid_index]))[:, 1]
            aucs.append(roc_auc_score(labels[valid_index], scores))
        sample = texts[:200]
        started = time.perf_counter()
        for text in sample:
            features.transform([text])
        per_text_ms = 1000 * (time.perf_counter() - started) / len(sample)
        baseline = aucs if baseline is None else baseline
        delta = np.array(aucs) - np.array(baseline)
        print(f"| {name} | {np.mean(aucs):.4f} | {np.std(aucs):.4f} | {np.min(aucs):.4f} "
              f"| {np.mean(delta):+.4f} ± {np.std(delta):.4f} | {per_text_ms:.2f} |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/train_corpus.csv"))
