"""The speech engines: audio decoding, phrase-biased recognition and synthesis.

Speech is made here with espeak-ng (Debian package ``espeak-ng``) and recognised by
PocketSphinx with a language model built from two bots' phrases. The test voice is espeak-ng's
``en-us+f2`` variant at 140 words a minute: the default male voice is hard for PocketSphinx's
acoustic model (see bench/speech_bench.py for both).
"""

from __future__ import annotations

import math
import os
import struct
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from nimbus.engines.speech import (
    AudioFormatError,
    SpeechRecognizer,
    SpeechSynthesisError,
    decode_audio,
    synthesize,
)
from nimbus.engines.speech.audio import encode_wav, resample, to_int16
from nimbus.engines.speech.language_model import build_arpa, normalize, number_words, pronunciations
from nimbus.engines.speech.recognition import word_error_rate

VOICE = "en-us+f2"
WPM = 140
ORDER_FLOWERS = [
    "I would like to pick up flowers",
    "I would like to order some flowers",
    "I would like to order some {FlowerType}",
    "Can I get some tulips",
    "What type of flowers would you like to order",
    "What day do you want the roses to be picked up",
    "At what time do you want the lilies to be picked up",
    "tomorrow at five pm",
    "today at 10 am",
    "roses",
    "tulips",
    "lilies",
    "yes",
    "no",
]
BANKING = [
    "What is my account balance",
    "check my balance",
    "I want to check my account balance",
    "transfer 100 dollars from checking to savings",
    "pay my credit card bill",
    "checking",
    "savings",
    "yes",
    "no",
]
FLOWER_SENTENCES = [
    "I would like to order some roses",
    "tomorrow at five pm",
    "yes",
    "can I get some tulips",
]
BANK_SENTENCES = [
    "I want to check my account balance",
    "transfer 100 dollars from checking to savings",
    "pay my credit card bill",
]


def speech(text: str) -> np.ndarray:
    return np.frombuffer(synthesize(text, voice=VOICE, words_per_minute=WPM), dtype="<i2")


def tone(frequency: float, rate: int, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return to_int16(0.5 * np.sin(2 * math.pi * frequency * t))


def peak_frequency(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.argmax(spectrum) * rate / pcm.size)


# --- decoding ---------------------------------------------------------------------------------


def test_l16_is_little_endian_as_lex_documents() -> None:
    samples = np.array([1, -2, 300, -32768, 32767], dtype=np.int16)
    decoded = decode_audio(samples.astype("<i2").tobytes(), "audio/l16; rate=16000; channels=1")
    assert decoded.dtype == np.int16
    np.testing.assert_array_equal(decoded, samples)


def test_x_l16_and_big_endian_lpcm() -> None:
    samples = tone(440, 16_000)
    x_l16 = decode_audio(samples.tobytes(), "audio/x-l16; sample-rate=16000; channel-count=1")
    np.testing.assert_array_equal(x_l16, samples)
    big = "audio/lpcm; sample-rate=16000; sample-size-bits=16; channel-count=1; is-big-endian=true"
    np.testing.assert_array_equal(decode_audio(samples.astype(">i2").tobytes(), big), samples)


def test_lpcm_8khz_is_resampled_to_16khz() -> None:
    samples = tone(440, 8_000)
    content_type = "audio/lpcm; sample-rate=8000; sample-size-bits=16; channel-count=1; is-big-endian=false"
    decoded = decode_audio(samples.tobytes(), content_type)
    assert decoded.size == 2 * samples.size
    assert peak_frequency(decoded, 16_000) == pytest.approx(440, abs=3)


def test_wav_round_trip_and_stereo_downmix() -> None:
    samples = tone(1000, 16_000)
    np.testing.assert_array_equal(decode_audio(encode_wav(samples), "audio/wav"), samples)
    stereo = np.stack([samples, samples], axis=1).astype("<i2").tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(stereo), b"WAVE", b"fmt ", 16, 1, 2, 16_000, 64_000, 4, 16, b"data", len(stereo),
    )  # fmt: skip
    np.testing.assert_array_equal(decode_audio(header + stereo, "audio/x-wav"), samples)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\x01\x02\x03", "audio/l16; rate=16000; channels=1"),  # odd byte count
        (b"\x00\x00" * 10, "audio/l16; rate=sixteen; channels=1"),
        (b"\x00\x00" * 10, "audio/l16; rate=16000; channels=0"),
        (b"\x00\x00" * 10, "audio/lpcm; sample-rate=8000; sample-size-bits=8; channel-count=1"),
        (b"\x00\x00" * 10, "audio/mpeg"),
        (b"\x00\x00" * 10, "audio/l16; rate"),
        (os.urandom(4096), "audio/wav"),  # random bytes
        (encode_wav(np.zeros(100, np.int16))[:-20], "audio/wav"),  # header lies about the length
        (encode_wav(np.zeros(100, np.int16))[:40], "audio/wav"),  # data chunk header cut short
        (b"RIFF\x04\x00\x00\x00WAVE", "audio/wav"),  # no chunks at all
    ],
)
def test_malformed_audio_is_refused(data: bytes, content_type: str) -> None:
    with pytest.raises(AudioFormatError):
        decode_audio(data, content_type)


def test_wav_data_chunk_longer_than_the_file_is_refused() -> None:
    wav = bytearray(encode_wav(np.zeros(100, np.int16)))
    struct.pack_into("<I", wav, 40, 10_000)  # data chunk size
    with pytest.raises(AudioFormatError, match="past the end"):
        decode_audio(bytes(wav), "audio/wav")


def test_resample_keeps_a_tone_in_place() -> None:
    resampled = resample(tone(300, 22_050).astype(np.float64) / 32768, 22_050, 16_000)
    assert resampled.size == 8_000
    assert peak_frequency(resampled, 16_000) == pytest.approx(300, abs=3)


# --- language model ----------------------------------------------------------------------------


def test_normalize_spells_digits_and_drops_slot_placeholders() -> None:
    assert normalize("Order {FlowerType} at 5 PM, please!") == ["order", "at", "five", "pm", "please"]
    assert normalize("I'd pay 1250 dollars") == [
        "i'd",
        "pay",
        "one",
        "thousand",
        "two",
        "hundred",
        "fifty",
        "dollars",
    ]
    assert number_words(40) == ["forty"]


def parse_arpa(text: str) -> tuple[dict[tuple[str, ...], float], dict[tuple[str, ...], float]]:
    probs: dict[tuple[str, ...], float] = {}
    backoffs: dict[tuple[str, ...], float] = defaultdict(float)
    order = 0
    for line in text.splitlines():
        if line.startswith("\\") and line.endswith("-grams:"):
            order = int(line[1])
        elif order and line.strip() and not line.startswith("\\"):
            fields = line.split()
            gram = tuple(fields[1 : 1 + order])
            probs[gram] = float(fields[0])
            if len(fields) > order + 1:
                backoffs[gram] = float(fields[-1])
    return probs, backoffs


def arpa_prob(gram: tuple[str, ...], probs: dict, backoffs: dict) -> float:
    if gram in probs:
        return 10 ** probs[gram]
    return 10 ** backoffs[gram[:-1]] * arpa_prob(gram[1:], probs, backoffs)


def test_arpa_model_is_a_proper_distribution_in_every_context() -> None:
    sentences = [normalize(phrase) for phrase in ORDER_FLOWERS]
    probs, backoffs = parse_arpa(build_arpa(sentences))
    vocabulary = [gram[0] for gram in probs if len(gram) == 1 and gram[0] != "<s>"]
    contexts = [gram for gram in probs if len(gram) < 3 and gram[-1] != "</s>"]
    for context in contexts:
        total = sum(arpa_prob((*context, word), probs, backoffs) for word in vocabulary)
        assert total == pytest.approx(1.0, abs=1e-3), context


def test_words_missing_from_cmudict_get_espeak_pronunciations() -> None:
    lexicon = pronunciations(["zorblax", "roses"])
    assert lexicon["zorblax"][0].split()[0] == "Z"
    assert "R OW Z IH Z" in lexicon["roses"]


# --- recognition -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flowers() -> SpeechRecognizer:
    return SpeechRecognizer.for_phrases(ORDER_FLOWERS)


@pytest.fixture(scope="module")
def banking() -> SpeechRecognizer:
    return SpeechRecognizer.for_phrases(BANKING)


@pytest.mark.parametrize("sentence", FLOWER_SENTENCES)
def test_order_flowers_speech_is_transcribed(flowers: SpeechRecognizer, sentence: str) -> None:
    transcript = flowers.transcribe(speech(sentence))
    assert word_error_rate(sentence, transcript.text) <= 0.2, transcript
    assert 0.0 < transcript.confidence <= 1.0


@pytest.mark.parametrize("sentence", BANK_SENTENCES)
def test_banking_speech_is_transcribed(banking: SpeechRecognizer, sentence: str) -> None:
    transcript = banking.transcribe(speech(sentence))
    assert word_error_rate(sentence, transcript.text) <= 0.2, transcript


def test_key_words_come_through(flowers: SpeechRecognizer) -> None:
    assert "roses" in flowers.transcribe(speech("I would like to order some roses")).text.split()
    assert "tomorrow" in flowers.transcribe(speech("tomorrow at five pm")).text.split()


@pytest.mark.parametrize(
    "sentence", ["transfer 100 dollars from checking to savings", "pay my credit card bill"]
)
def test_8khz_wav_speech_is_resampled_and_recognised(banking: SpeechRecognizer, sentence: str) -> None:
    # Telephone-band audio loses everything above 4 kHz; the wideband acoustic model copes less well.
    narrowband = to_int16(resample(speech(sentence) / 32768.0, 16_000, 8_000))
    pcm = decode_audio(encode_wav(narrowband, rate=8_000), "audio/wav")
    assert pcm.size == 2 * narrowband.size
    assert word_error_rate(sentence, banking.transcribe(pcm).text) <= 0.2


def test_recognizers_are_cached_per_phrase_set(flowers: SpeechRecognizer) -> None:
    assert SpeechRecognizer.for_phrases(list(reversed(ORDER_FLOWERS))) is flowers
    assert SpeechRecognizer.for_phrases(BANKING) is not flowers


def test_concurrent_transcription_gives_the_same_answers(flowers: SpeechRecognizer) -> None:
    clips = [speech(sentence) for sentence in FLOWER_SENTENCES] * 2
    expected = [flowers.transcribe(clip).text for clip in clips]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert [t.text for t in pool.map(flowers.transcribe, clips)] == expected


def test_silence_and_bad_input(flowers: SpeechRecognizer) -> None:
    assert flowers.transcribe(np.zeros(0, dtype=np.int16)).text == ""
    with pytest.raises(ValueError):
        flowers.transcribe(np.zeros(100, dtype=np.float32))
    with pytest.raises(ValueError):
        SpeechRecognizer.for_phrases(["", "{OnlyASlot}", "?!"])


# --- synthesis ---------------------------------------------------------------------------------


def test_synthesis_is_16khz_mono_pcm() -> None:
    pcm = np.frombuffer(synthesize("hello world"), dtype="<i2")
    assert 0.5 < pcm.size / 16_000 < 3.0
    assert np.abs(pcm).max() > 1000


@pytest.mark.parametrize("voice", ["zz-no-such-voice", "-x", "en us"])
def test_synthesis_refuses_bad_voices(voice: str) -> None:
    with pytest.raises(SpeechSynthesisError):
        synthesize("hello", voice=voice)
