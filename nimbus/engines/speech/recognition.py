"""Speech recognition with PocketSphinx, biased to a bot's own phrases.

``SpeechRecognizer.for_phrases`` builds a trigram language model and a pronunciation
dictionary from the phrases (utterances and slot values) so the decoder only has to choose
among the words the bot knows; ``SpeechRecognizer.generic`` uses the wheel's general US
English model instead. Recognizers are cached per phrase set. A PocketSphinx decoder is not
thread-safe, so each recognizer keeps a pool of decoders and lends one to each call.
"""

from __future__ import annotations

import functools
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pocketsphinx import Decoder, get_model_path

from nimbus.engines.speech.audio import TARGET_RATE
from nimbus.engines.speech.language_model import (
    build_arpa,
    format_dictionary,
    normalize,
    pronunciations,
)

RECOGNIZER_CACHE_SIZE = 32


@dataclass(frozen=True)
class Transcript:
    """What was said, lower case, and the decoder's posterior probability of it (0..1)."""

    text: str
    confidence: float


@dataclass(frozen=True)
class _DomainModel:
    arpa: str
    dictionary: str


class SpeechRecognizer:
    """Turns 16 kHz mono int16 speech into text; safe to share between threads."""

    def __init__(self, domain: _DomainModel | None = None) -> None:
        self._domain = domain
        self._idle: list[Decoder] = []
        self._lock = threading.Lock()

    @classmethod
    def for_phrases(cls, phrases: list[str]) -> SpeechRecognizer:
        """A recognizer whose vocabulary and word order come from ``phrases`` (cached per set)."""
        sentences = frozenset(tuple(words) for words in map(normalize, phrases) if words)
        if not sentences:
            raise ValueError("a phrase-biased recognizer needs at least one phrase with words in it")
        return _recognizer_for(tuple(sorted(sentences)))

    @classmethod
    def generic(cls) -> SpeechRecognizer:
        """The general US English recognizer (large vocabulary, no bias; shared per process)."""
        return _generic_recognizer()

    def transcribe(self, pcm: np.ndarray) -> Transcript:
        """Recognise one utterance of 16 kHz mono int16 samples."""
        if pcm.ndim != 1 or pcm.dtype != np.int16:
            raise ValueError("transcribe takes a one-dimensional int16 array (16 kHz mono)")
        if pcm.size == 0:
            return Transcript(text="", confidence=0.0)
        with self._decoder() as decoder:
            decoder.start_utt()
            decoder.process_raw(np.ascontiguousarray(pcm).tobytes(), full_utt=True)
            decoder.end_utt()
            hypothesis = decoder.hyp()
            if hypothesis is None or not hypothesis.hypstr.strip():
                return Transcript(text="", confidence=0.0)
            return Transcript(text=hypothesis.hypstr.strip(), confidence=_clamp(decoder.get_prob()))

    @contextmanager
    def _decoder(self) -> Iterator[Decoder]:
        with self._lock:
            decoder = self._idle.pop() if self._idle else None
        if decoder is None:
            decoder = self._new_decoder()
        try:
            yield decoder
        finally:
            with self._lock:
                self._idle.append(decoder)

    def _new_decoder(self) -> Decoder:
        options = {"samprate": TARGET_RATE, "loglevel": "FATAL"}
        if self._domain is None:
            return Decoder(**options)
        # The decoder reads its model files once, when it is created.
        with tempfile.TemporaryDirectory(prefix="nimbus-speech-") as folder:
            lm_path, dict_path = Path(folder, "bot.arpa"), Path(folder, "bot.dict")
            lm_path.write_text(self._domain.arpa, encoding="utf-8")
            dict_path.write_text(self._domain.dictionary, encoding="utf-8")
            return Decoder(hmm=get_model_path("en-us/en-us"), lm=str(lm_path), dict=str(dict_path), **options)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level edit distance over the reference's length, after ``normalize`` on both."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    distances = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        previous, distances[0] = distances[:], i
        for j, hyp_word in enumerate(hyp, start=1):
            substitution = previous[j - 1] + (ref_word != hyp_word)
            distances[j] = min(previous[j] + 1, distances[j - 1] + 1, substitution)
    return distances[-1] / max(len(ref), 1)


def _clamp(probability: float) -> float:
    return min(max(float(probability), 0.0), 1.0)


@functools.lru_cache(maxsize=RECOGNIZER_CACHE_SIZE)
def _recognizer_for(sentences: tuple[tuple[str, ...], ...]) -> SpeechRecognizer:
    lexicon = pronunciations(word for words in sentences for word in words)
    speakable = [[word for word in words if word in lexicon] for words in sentences]
    domain = _DomainModel(arpa=build_arpa(speakable), dictionary=format_dictionary(lexicon))
    recognizer = SpeechRecognizer(domain)
    recognizer.transcribe(np.zeros(TARGET_RATE // 10, dtype=np.int16))  # load a decoder now
    return recognizer


@functools.cache
def _generic_recognizer() -> SpeechRecognizer:
    return SpeechRecognizer()
