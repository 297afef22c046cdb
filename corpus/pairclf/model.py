"""The second opinion: a multinomial logistic regression on MiniLM features of a marked pair
(corpus/pairclf/features.py), trained on BioRED Train sentence pairs (corpus/pairclf/data.py).

It answers, for an unordered pair of grounded variables in one sentence, P(none), P(positive),
P(negative) and P(other relation); it knows no direction (BioRED's relations have none). The
translator combines it with the language model's label probabilities (corpus/llm/second.py).

Weights are a small ``.npz`` (standardization, coefficients, intercepts, the training note); the file
shipped in ``theorycov/data/`` is made by ``bench/pairclf_train.py`` from BioRED Train alone.

Errors::

    CorpusError
     └── PairClassifierError    a weights file that is missing, malformed, or of another feature layout
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from theorycov.corpus.pairclf.data import LABELS
from theorycov.corpus.pairclf.features import N_FEATURES, pair_features
from theorycov.corpus.types import CorpusError, Mention

if TYPE_CHECKING:
    import numpy as np

def _data_dir() -> Path:
    import theorycov

    return Path(theorycov.__file__).resolve().parent / "data"


DEFAULT_WEIGHTS = _data_dir() / "pairclf_biored_train.npz"


class PairClassifierError(CorpusError):
    """A weights file that cannot be used."""


@dataclass(frozen=True)
class PairClassifier:
    """Standardized features -> softmax over :data:`LABELS`."""

    mean: "np.ndarray"  # (D,)
    scale: "np.ndarray"  # (D,)
    coef: "np.ndarray"  # (4, D)
    intercept: "np.ndarray"  # (4,)
    note: dict  # how it was trained: data, C, seed, cross-validated figures

    def proba(self, X: "np.ndarray") -> "np.ndarray":
        """Label probabilities, (N, 4) for features (N, D)."""
        import numpy as np

        if X.ndim != 2 or X.shape[1] != self.coef.shape[1]:
            raise PairClassifierError(f"features of shape {X.shape}; this classifier reads (N, {self.coef.shape[1]})")
        z = ((X - self.mean) / self.scale) @ self.coef.T + self.intercept  # (N, 4)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def pairs(self, sentence: str, mentions: list[Mention], pairs: list[tuple[str, str]]) -> dict[frozenset[str], tuple[float, ...]]:
        """{frozenset((a, b)): (P(none), P(positive), P(negative), P(other))} for the unordered ``pairs``."""
        if not pairs:
            return {}
        P = self.proba(pair_features([(sentence, mentions, pairs)]))
        return {frozenset(p): tuple(float(x) for x in row) for p, row in zip(pairs, P)}

    def save(self, path: Path) -> None:
        import numpy as np

        np.savez_compressed(path, mean=self.mean.astype(np.float32), scale=self.scale.astype(np.float32),
                            coef=self.coef.astype(np.float32), intercept=self.intercept.astype(np.float32),
                            note=np.array(json.dumps(self.note)))

    @classmethod
    def load(cls, path: Path | str = DEFAULT_WEIGHTS) -> "PairClassifier":
        import numpy as np

        path = Path(path)
        if not path.is_file():
            raise PairClassifierError(f"no pair-classifier weights at {path} (bench/pairclf_train.py makes them)")
        try:
            with np.load(path, allow_pickle=False) as z:
                clf = cls(z["mean"], z["scale"], z["coef"], z["intercept"], json.loads(str(z["note"])))
        except (KeyError, ValueError, OSError) as exc:
            raise PairClassifierError(f"{path}: not a pair-classifier weights file ({exc})") from exc
        if clf.coef.shape != (len(LABELS), N_FEATURES) or clf.mean.shape != (N_FEATURES,):
            raise PairClassifierError(f"{path}: weights of shape {clf.coef.shape}, expected ({len(LABELS)}, {N_FEATURES})")
        return clf


def train(X: "np.ndarray", y: "np.ndarray", *, C: float, seed: int = 0, note: dict | None = None) -> PairClassifier:
    """Fit the standardized multinomial logistic regression (L2, inverse strength ``C``)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    if len(X) != len(y) or X.ndim != 2:
        raise ValueError(f"features {X.shape} and labels {y.shape} do not match")
    if set(np.unique(y)) != set(range(len(LABELS))):
        raise ValueError(f"labels {sorted(set(np.unique(y)))}: every one of {list(LABELS)} must occur")
    mean, scale = X.mean(0), X.std(0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    m = LogisticRegression(C=C, max_iter=1000, random_state=seed).fit((X - mean) / scale, y)
    return PairClassifier(mean, scale, m.coef_, m.intercept_, dict(note or {}, C=C, seed=seed, n=int(len(y))))


def cross_validated(X: "np.ndarray", y: "np.ndarray", groups: "np.ndarray", *, C: float, folds: int = 5,
                    seed: int = 0) -> "np.ndarray":
    """Out-of-fold probabilities (N, 4): each document's pairs scored by a model not trained on it."""
    import numpy as np
    from sklearn.model_selection import GroupKFold

    P = np.zeros((len(y), len(LABELS)))
    for tr, te in GroupKFold(folds).split(X, y, groups):
        P[te] = train(X[tr], y[tr], C=C, seed=seed).proba(X[te])
    return P


__all__ = ["DEFAULT_WEIGHTS", "PairClassifier", "PairClassifierError", "cross_validated", "train"]
