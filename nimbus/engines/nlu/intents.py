"""Intent classification: logistic regression on sentence embeddings and character n-grams.

Confidence = the classifier's sharpened probability for the intent times a domain gate.

* Sharpening: the probabilities are squared and renormalised (temperature 0.5). With few sample
  utterances per intent the regularised classifier spreads its probability over every intent
  (a clear winner among 7 intents may get only 0.35), which alone would fall below Lex's
  ``nluIntentConfidenceThreshold``; sharpening keeps the ranking and lifts a clear winner.
* Domain gate: ``sigmoid((nearest - center) / GATE_WIDTH)``, where ``nearest`` is the best cosine
  between the utterance's embedding and the intent's sample utterances, and ``center`` is relative to
  how close the intent's own samples are to each other: ``GATE_RELATIVE`` times the intent's typical
  nearest-neighbour cosine (the mean over its samples of the best cosine to its other samples, variants
  of one template not counted), but never below ``GATE_FLOOR``. A tight intent (transit questions, all
  alike) demands a close match; a broad one ("what software can I use to ...", each sample about
  something else) accepts a paraphrase that is as far from its samples as they are from one another.
  Nonsense and out-of-domain questions are far from every sample utterance, so every intent's
  confidence stays low and the threshold sends them to the fallback intent.

Sentences are embedded by the locale's encoder (``embeddings.encoder_for``). The multilingual
encoder's cosines crowd near 1 (unrelated sentences ~0.80, where English's encoder gives ~0.13), so
its cosines are rescaled as ``(cosine - floor) / (1 - floor)`` and its vectors stretched by
``1 / sqrt(1 - floor)`` before they meet the constants below; ``floor`` = 0.77 puts both encoders'
unrelated and same-intent similarities on one scale (measured on the English validation split of
xSID, whose sentences both encoders read).

The constants were tuned by leave-one-out cross-validation on the training split of the Braun et al.
2017 corpora (Lex protocol: micro-F1 at threshold 0.4, the corpus "None" sentences as out-of-domain
probes that no intent is trained on), checking that other corpora's sentences stay below the threshold.
"""

from __future__ import annotations

import pickle
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nimbus.engines.nlu.embeddings import ENGLISH, MULTILINGUAL, get_embedder

if TYPE_CHECKING:  # scikit-learn and SciPy take seconds to import: loaded where a bot trains or loads
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

PLACEHOLDER = re.compile(r"\{(\w+)\}")
FILLS_PER_TEMPLATE = 3
EMBEDDING_WEIGHT = 2.0
REGULARIZATION_C = 20.0
SHARPEN_POWER = 2.0  # probabilities ** SHARPEN_POWER, renormalised
# Domain gate: sigmoid((best cosine to the intent's samples - center) / GATE_WIDTH), with
# center = max(GATE_FLOOR, GATE_RELATIVE * the intent's typical nearest-neighbour cosine).
GATE_RELATIVE = 0.5
GATE_FLOOR = 0.25
GATE_WIDTH = 0.04
FORMAT_VERSION = 2
SIMILARITY_FLOOR = {ENGLISH: 0.0, MULTILINGUAL: 0.77}


@dataclass(frozen=True)
class IntentExample:
    """A sample utterance of an intent; it may contain ``{SlotName}`` placeholders."""

    intent: str
    text: str


def fill_placeholders(text: str, slot_values: Mapping[str, Sequence[str]], rng: random.Random) -> str:
    """``text`` with each ``{Slot}`` replaced by a sample value (or the slot's name as words)."""

    def sample(match: re.Match[str]) -> str:
        values = slot_values.get(match.group(1))
        if values:
            return rng.choice(list(values))
        return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", match.group(1)).lower()

    return PLACEHOLDER.sub(sample, text)


def expand_examples(
    examples: Sequence[IntentExample], slot_values: Mapping[str, Sequence[str]], seed: int
) -> tuple[list[IntentExample], list[int]]:
    """Examples with placeholders filled: several variants of each template, one of a plain one;
    beside them the index in ``examples`` that each came from."""
    rng = random.Random(seed)
    expanded = []
    origins = []
    for index, example in enumerate(examples):
        fills = FILLS_PER_TEMPLATE if PLACEHOLDER.search(example.text) else 1
        variants = sorted({fill_placeholders(example.text, slot_values, rng) for _ in range(fills)})
        expanded.extend(IntentExample(example.intent, v) for v in variants)
        origins.extend([index] * len(variants))
    return expanded, origins


def _char_vectorizer() -> TfidfVectorizer:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, lowercase=True)


class IntentClassifier:
    """Ranks the trained intents for an utterance with a 0..1 confidence each."""

    def __init__(
        self,
        intents: list[str],
        vectorizer: TfidfVectorizer,
        model: LogisticRegression | None,
        sample_embeddings: np.ndarray,
        sample_intents: np.ndarray,
        gate_centers: np.ndarray,
        encoder: str = ENGLISH,
    ) -> None:
        self.intents = intents
        self.encoder = encoder
        self._vectorizer = vectorizer
        self._model = model
        self._sample_embeddings = sample_embeddings
        self._sample_intents = sample_intents
        self._gate_centers = gate_centers

    @classmethod
    def train(
        cls,
        examples: Sequence[IntentExample],
        *,
        slot_values: Mapping[str, Sequence[str]] | None = None,
        seed: int = 0,
        encoder: str = ENGLISH,
    ) -> IntentClassifier:
        """Trains on sample utterances; ``slot_values`` maps slot names to values for placeholders;
        ``encoder`` names the sentence encoder (``embeddings.encoder_for(locale)``)."""
        expanded, origins = expand_examples(examples, slot_values or {}, seed)
        intents = sorted({e.intent for e in expanded})
        if not intents:
            raise ValueError("no training examples")
        texts = [e.text for e in expanded]
        labels = np.array([intents.index(e.intent) for e in expanded])
        embeddings = get_embedder(encoder).encode(texts)
        floor = SIMILARITY_FLOOR[encoder]
        vectorizer = _char_vectorizer().fit(texts)
        features = _features(embeddings, vectorizer.transform(texts), floor)
        model = _fit_model(features, labels, len(intents), seed)
        typical = _typical_similarities(embeddings, labels, np.array(origins), len(intents), floor)
        gate_centers = np.maximum(GATE_FLOOR, GATE_RELATIVE * typical)
        return cls(intents, vectorizer, model, embeddings, labels, gate_centers, encoder)

    def predict(self, text: str) -> list[tuple[str, float]]:
        """Every trained intent with its confidence, best first."""
        embedding = get_embedder(self.encoder).encode([text])
        probabilities = self._probabilities(embedding, text)
        gates = self._gates(embedding[0])
        confidences = probabilities * gates
        order = np.argsort(-confidences, kind="stable")
        return [(self.intents[i], round(float(confidences[i]), 4)) for i in order]

    def _probabilities(self, embedding: np.ndarray, text: str) -> np.ndarray:
        if self._model is None:
            return np.ones(1)
        features = _features(embedding, self._vectorizer.transform([text]), SIMILARITY_FLOOR[self.encoder])
        sharpened = self._model.predict_proba(features)[0] ** SHARPEN_POWER
        return sharpened / sharpened.sum()

    def _gates(self, embedding: np.ndarray) -> np.ndarray:
        similarities = _rescaled(self._sample_embeddings @ embedding, SIMILARITY_FLOOR[self.encoder])
        best = np.array([similarities[self._sample_intents == i].max() for i in range(len(self.intents))])
        return 1.0 / (1.0 + np.exp(-(best - self._gate_centers) / GATE_WIDTH))

    def save(self, path: Path) -> None:
        """Writes the trained model to ``path`` (a file Nimbus itself reads back)."""
        state = {
            "version": FORMAT_VERSION,
            "intents": self.intents,
            "vectorizer": self._vectorizer,
            "model": self._model,
            "sample_embeddings": self._sample_embeddings,
            "sample_intents": self._sample_intents,
            "gate_centers": self._gate_centers,
            "encoder": self.encoder,
        }
        Path(path).write_bytes(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    @classmethod
    def load(cls, path: Path) -> IntentClassifier:
        """Reads a model written by :meth:`save`."""
        state = pickle.loads(Path(path).read_bytes())
        if state.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported intent model format: {state.get('version')!r}")
        return cls(
            state["intents"],
            state["vectorizer"],
            state["model"],
            state["sample_embeddings"],
            state["sample_intents"],
            state["gate_centers"],
            state.get("encoder", ENGLISH),  # models built before other languages were English
        )


def _rescaled(cosines: np.ndarray, floor: float) -> np.ndarray:
    return (cosines - floor) / (1.0 - floor)


def _features(embeddings: np.ndarray, char_ngrams: csr_matrix, floor: float) -> csr_matrix:
    from scipy.sparse import csr_matrix, hstack

    stretch = EMBEDDING_WEIGHT / np.sqrt(1.0 - floor)
    return hstack([csr_matrix(embeddings * stretch), char_ngrams]).tocsr()


def _typical_similarities(
    embeddings: np.ndarray, labels: np.ndarray, origins: np.ndarray, n_intents: int, floor: float
) -> np.ndarray:
    """Per intent, the mean over its samples of the best cosine to its samples from other templates.

    An intent with no such pair (one template) gets the mean of the other intents' values, or 0
    when no intent has one (its gate center is then ``GATE_FLOOR``).
    """
    typical = np.full(n_intents, np.nan)
    for intent in range(n_intents):
        mine = labels == intent
        similarities = _rescaled(embeddings[mine] @ embeddings[mine].T, floor)
        similarities[origins[mine][:, None] == origins[mine][None, :]] = -np.inf
        best = similarities.max(axis=1)
        best = best[np.isfinite(best)]
        if best.size:
            typical[intent] = best.mean()
    known = typical[np.isfinite(typical)]
    return np.where(np.isfinite(typical), typical, known.mean() if known.size else 0.0)


def _fit_model(
    features: csr_matrix, labels: np.ndarray, n_intents: int, seed: int
) -> LogisticRegression | None:
    from sklearn.linear_model import LogisticRegression

    if n_intents == 1:
        return None
    model = LogisticRegression(C=REGULARIZATION_C, tol=1e-3, max_iter=2000, random_state=seed)
    return model.fit(features, labels)
