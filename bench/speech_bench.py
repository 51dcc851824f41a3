"""Speech recognition quality and speed: word error rate (WER) and real-time factor (RTF).

Two bots (OrderFlowers and a banking bot), each with its phrase set (utterances and slot
values). 30 test sentences, half per bot, a third of them word sequences the bot never listed,
are spoken by espeak-ng and transcribed by PocketSphinx:

    biased    SpeechRecognizer.for_phrases(bot phrases): trigram LM + dictionary from the phrases
    generic   SpeechRecognizer.generic(): the wheel's general US English LM (no bias)

per voice (espeak-ng ``en-us+f2`` and the default male ``en-us``) and, for the biased model, on
the same audio passed through 8 kHz (telephone band) and back. WER is total word edits over total
reference words; sentence accuracy counts exact transcripts; RTF is decoding time over audio
duration (one thread, after a warm-up). Reference point: the figure commonly quoted for PocketSphinx
on clear speech with a small domain language model is about 3% WER (quoted, not measured here).

    .venv/bin/python bench/speech_bench.py [--voices en-us+f2 en-us] [--wpm 140]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from nimbus.engines.speech import SpeechRecognizer, synthesize
from nimbus.engines.speech.audio import TARGET_RATE, resample, to_int16
from nimbus.engines.speech.language_model import normalize
from nimbus.engines.speech.recognition import word_error_rate

FLOWER_TYPES = ["roses", "tulips", "lilies", "daisies", "sunflowers", "orchids"]
FLOWER_PHRASES = [
    "I would like to pick up flowers",
    "I would like to order some flowers",
    "I want to order {FlowerType}",
    "Can I get some {FlowerType}",
    "What type of flowers would you like to order",
    "What day do you want the {FlowerType} to be picked up",
    "Pick them up at {PickupTime}",
    "tomorrow",
    "today",
    "next friday",
    "at five pm",
    "at ten thirty am",
    "at noon",
    "yes",
    "no",
    "cancel my order",
    *[f"{flower}" for flower in FLOWER_TYPES],
    *[f"I would like to order some {flower}" for flower in FLOWER_TYPES],
]
BANK_PHRASES = [
    "What is my account balance",
    "What is the balance of my {AccountType} account",
    "check my balance",
    "I want to check my account balance",
    "transfer {Amount} dollars from {AccountType} to {AccountType}",
    "move money between my accounts",
    "pay my credit card bill",
    "pay {Amount} dollars on my credit card",
    "I lost my debit card",
    "freeze my card",
    "checking",
    "savings",
    "credit card",
    "50",
    "100",
    "250",
    "yes",
    "no",
]
FLOWER_SENTENCES = [
    "I would like to order some roses",
    "tomorrow at five pm",
    "yes",
    "can I get some tulips",
    "I want to order lilies",
    "what type of flowers would you like to order",
    "pick them up tomorrow at noon",
    "I would like to order some sunflowers",
    "next friday at ten thirty am",
    "no",
    "cancel my order",
    "can I get some orchids",
    "today at five pm",
    "I want to order daisies",
    "I would like to pick up flowers",
]
BANK_SENTENCES = [
    "what is my account balance",
    "check my balance",
    "transfer 100 dollars from checking to savings",
    "pay my credit card bill",
    "I lost my debit card",
    "freeze my card",
    "what is the balance of my savings account",
    "transfer 50 dollars from savings to checking",
    "pay 250 dollars on my credit card",
    "move money between my accounts",
    "yes",
    "savings",
    "I want to check my account balance",
    "what is the balance of my checking account",
    "no",
]


@dataclass
class Score:
    """Accumulated errors and timings over a set of clips."""

    edits: float = 0.0
    words: int = 0
    exact: int = 0
    clips: int = 0
    decode_s: float = 0.0
    audio_s: float = 0.0

    def add(self, reference: str, hypothesis: str, decode_s: float, audio_s: float) -> None:
        words = len(normalize(reference))
        self.edits += word_error_rate(reference, hypothesis) * words
        self.words += words
        self.exact += normalize(reference) == normalize(hypothesis)
        self.clips += 1
        self.decode_s += decode_s
        self.audio_s += audio_s

    def row(self, label: str) -> str:
        wer = 100 * self.edits / self.words
        accuracy = 100 * self.exact / self.clips
        return (
            f"| {label} | {self.clips} | {wer:.1f}% | {accuracy:.0f}% | {self.decode_s / self.audio_s:.3f} |"
        )


def speak(sentence: str, voice: str, wpm: int) -> np.ndarray:
    return np.frombuffer(synthesize(sentence, voice=voice, words_per_minute=wpm), dtype="<i2")


def telephone_band(pcm: np.ndarray) -> np.ndarray:
    narrow = resample(pcm / 32768.0, TARGET_RATE, 8_000)
    return to_int16(resample(narrow, 8_000, TARGET_RATE))


def evaluate(recognizer: SpeechRecognizer, clips: list[tuple[str, np.ndarray]], score: Score) -> None:
    recognizer.transcribe(clips[0][1])  # warm-up: the first call creates a decoder
    for sentence, pcm in clips:
        started = time.perf_counter()
        text = recognizer.transcribe(pcm).text
        score.add(sentence, text, time.perf_counter() - started, pcm.size / TARGET_RATE)


def build_recognizers() -> tuple[dict[str, SpeechRecognizer], list[str]]:
    lines = []
    recognizers = {}
    for name, phrases in (("flowers", FLOWER_PHRASES), ("bank", BANK_PHRASES)):
        started = time.perf_counter()
        recognizers[name] = SpeechRecognizer.for_phrases(phrases)
        lines.append(f"- {name}: {len(phrases)} phrases, built in {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    recognizers["generic"] = SpeechRecognizer.generic()
    recognizers["generic"].transcribe(np.zeros(TARGET_RATE // 10, dtype=np.int16))
    lines.append(f"- generic: loaded in {time.perf_counter() - started:.2f} s")
    return recognizers, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--voices", nargs="+", default=["en-us+f2", "en-us"])
    parser.add_argument("--wpm", type=int, default=140)
    args = parser.parse_args(argv)
    recognizers, build_lines = build_recognizers()
    bots = {"flowers": FLOWER_SENTENCES, "bank": BANK_SENTENCES}
    rows = []
    for voice in args.voices:
        scores = {kind: Score() for kind in ("biased", "biased, 8 kHz", "generic")}
        for bot, sentences in bots.items():
            clips = [(sentence, speak(sentence, voice, args.wpm)) for sentence in sentences]
            evaluate(recognizers[bot], clips, scores["biased"])
            evaluate(
                recognizers[bot], [(s, telephone_band(pcm)) for s, pcm in clips], scores["biased, 8 kHz"]
            )
            evaluate(recognizers["generic"], clips, scores["generic"])
        rows.extend(score.row(f"{voice} | {kind}") for kind, score in scores.items())
    print("Language models (cold process: the first includes loading CMUdict):")
    print("\n".join(build_lines))
    print()
    print(f"espeak-ng at {args.wpm} words/min; pocketsphinx en-us acoustic model; one thread.")
    print()
    print("| voice | recognizer | sentences | WER | sentence accuracy | RTF |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print("| (quoted) clear human speech | pocketsphinx, domain LM | | ~3% | | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
