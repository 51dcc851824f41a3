"""Speech engines: audio decoding, phrase-biased recognition and synthesis (no HTTP, no AWS shapes).

Stable API (Lex RecognizeUtterance wires these together)::

    decode_audio(data: bytes, content_type: str) -> np.ndarray
        16 kHz mono int16 samples. Content types: "audio/l16; rate=16000; channels=1",
        "audio/x-l16; sample-rate=16000; channel-count=1" (little-endian, as Lex documents),
        "audio/lpcm; sample-rate=8000; sample-size-bits=16; channel-count=1; is-big-endian=false",
        "audio/wav" / "audio/x-wav" (8/16/24/32-bit PCM or float WAV, any rate and channel count).
        Raises AudioFormatError (a ValueError) for anything malformed or unsupported.

    SpeechRecognizer.for_phrases(phrases: list[str]) -> SpeechRecognizer
        Biased to a bot's own words: a trigram language model and a pronunciation dictionary
        built from the bot's utterances and slot values. Cached per phrase set; thread-safe.
    SpeechRecognizer.generic() -> SpeechRecognizer
        PocketSphinx's general US English model, for bots without phrases.
    SpeechRecognizer.transcribe(pcm: np.ndarray) -> Transcript(text: str, confidence: float)
        ``text`` is lower case, digits spelled out; ``confidence`` is a posterior in 0..1.

    synthesize(text: str, voice: str = "en-us") -> bytes
        16 kHz mono little-endian int16 PCM from espeak-ng. Raises SpeechSynthesisError.
"""

from nimbus.engines.speech.audio import AudioFormatError, decode_audio
from nimbus.engines.speech.recognition import SpeechRecognizer, Transcript
from nimbus.engines.speech.synthesis import SpeechSynthesisError, synthesize

__all__ = [
    "AudioFormatError",
    "SpeechRecognizer",
    "SpeechSynthesisError",
    "Transcript",
    "decode_audio",
    "synthesize",
]
