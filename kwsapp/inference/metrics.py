"""Clip-classification metrics: accuracy, per-class precision/recall and
the confusion matrix, as ``kwsapp evaluate`` prints them and a training run
writes them into its card (one definition, so both report alike)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def metrics(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/n and the confusion matrix
    (rows: true label, columns: predicted, in ``labels`` order)."""
    index = {lab: i for i, lab in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(truth, predicted):
        confusion[index[t], index[p]] += 1
    n = int(confusion.sum())
    per_class = {}
    for i, lab in enumerate(labels):
        support, predicted_n, hit = confusion[i].sum(), confusion[:, i].sum(), confusion[i, i]
        if support == 0 and predicted_n == 0:
            continue
        per_class[lab] = {"precision": round(float(hit / predicted_n), 4) if predicted_n else 0.0,
                          "recall": round(float(hit / support), 4) if support else 0.0,
                          "n": int(support)}
    return {"accuracy": round(float(np.trace(confusion) / n), 4) if n else 0.0, "n": n,
            "per_class": per_class,
            "confusion": {"labels": list(labels), "matrix": confusion.tolist()}}
