"""Intent classification: logistic regression on sentence embeddings and character n-grams.

Confidence = the classifier's probability for the intent times a domain gate: how close the
utterance's embedding comes to the intent's training utterances. Nonsense and out-of-domain
questions are far from every sample utterance, so every intent's confidence stays low and a
threshold (Lex's nluIntentConfidenceThreshold) sends them to the fallback intent.
"""

from __future__ import annotations

import pickle
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from nimbus.engines.nlu.embeddings import get_embedder

PLACEHOLDER = re.compile(r"\{(\w+)\}")
FILLS_PER_TEMPLATE = 3
EMBEDDING_WEIGHT = 2.0
REGULARIZATION_C = 20.0
# Domain gate: sigmoid((best cosine to the intent's samples - GATE_CENTER) / GATE_WIDTH).
GATE_CENTER = 0.38
GATE_WIDTH = 0.06
FORMAT_VERSION = 1


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
) -> list[IntentExample]:
    """Examples with placeholders filled: several variants of each template, one of a plain one."""
    rng = random.Random(seed)
    expanded = []
    for example in examples:
        fills = FILLS_PER_TEMPLATE if PLACEHOLDER.search(example.text) else 1
        variants = {fill_placeholders(example.text, slot_values, rng) for _ in range(fills)}
        expanded.extend(IntentExample(example.intent, v) for v in sorted(variants))
    return expanded


def _char_vectorizer() -> TfidfVectorizer:
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
    ) -> None:
        self.intents = intents
        self._vectorizer = vectorizer
        self._model = model
        self._sample_embeddings = sample_embeddings
        self._sample_intents = sample_intents

    @classmethod
    def train(
        cls,
        examples: Sequence[IntentExample],
        *,
        slot_values: Mapping[str, Sequence[str]] | None = None,
        seed: int = 0,
    ) -> IntentClassifier:
        """Trains on sample utterances; ``slot_values`` maps slot names to values for placeholders."""
        expanded = expand_examples(examples, slot_values or {}, seed)
        intents = sorted({e.intent for e in expanded})
        if not intents:
            raise ValueError("no training examples")
        texts = [e.text for e in expanded]
        labels = np.array([intents.index(e.intent) for e in expanded])
        embeddings = get_embedder().encode(texts)
        vectorizer = _char_vectorizer().fit(texts)
        model = _fit_model(_features(embeddings, vectorizer.transform(texts)), labels, len(intents), seed)
        return cls(intents, vectorizer, model, embeddings, labels)

    def predict(self, text: str) -> list[tuple[str, float]]:
        """Every trained intent with its confidence, best first."""
        embedding = get_embedder().encode([text])
        probabilities = self._probabilities(embedding, text)
        gates = self._gates(embedding[0])
        confidences = probabilities * gates
        order = np.argsort(-confidences, kind="stable")
        return [(self.intents[i], round(float(confidences[i]), 4)) for i in order]

    def _probabilities(self, embedding: np.ndarray, text: str) -> np.ndarray:
        if self._model is None:
            return np.ones(1)
        features = _features(embedding, self._vectorizer.transform([text]))
        return self._model.predict_proba(features)[0]

    def _gates(self, embedding: np.ndarray) -> np.ndarray:
        similarities = self._sample_embeddings @ embedding
        best = np.array([similarities[self._sample_intents == i].max() for i in range(len(self.intents))])
        return 1.0 / (1.0 + np.exp(-(best - GATE_CENTER) / GATE_WIDTH))

    def save(self, path: Path) -> None:
        """Writes the trained model to ``path`` (a file Nimbus itself reads back)."""
        state = {
            "version": FORMAT_VERSION,
            "intents": self.intents,
            "vectorizer": self._vectorizer,
            "model": self._model,
            "sample_embeddings": self._sample_embeddings,
            "sample_intents": self._sample_intents,
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
        )


def _features(embeddings: np.ndarray, char_ngrams: csr_matrix) -> csr_matrix:
    return hstack([csr_matrix(embeddings * EMBEDDING_WEIGHT), char_ngrams]).tocsr()


def _fit_model(
    features: csr_matrix, labels: np.ndarray, n_intents: int, seed: int
) -> LogisticRegression | None:
    if n_intents == 1:
        return None
    model = LogisticRegression(C=REGULARIZATION_C, tol=1e-3, max_iter=2000, random_state=seed)
    return model.fit(features, labels)
