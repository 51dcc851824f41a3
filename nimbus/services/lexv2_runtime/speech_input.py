"""RecognizeUtterance's input stream as text: typed text as sent, speech transcribed by the speech
engine with its vocabulary biased to the bot's own utterances and slot values.

Speech is English only: the speech engine's PocketSphinx model is US English, and no offline
recognizer for other languages ships its weights inside a package (Vosk's models are downloaded at
run time). Audio for another locale is refused with a ValidationException that says so."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nimbus.engines.speech import AudioFormatError, SpeechRecognizer, decode_audio
from nimbus.engines.speech.audio import encode_wav
from nimbus.services.lexv2_runtime.bot_locale import BotLocale
from nimbus.services.lexv2_runtime.errors import validation

_SLOT_REFERENCE = re.compile(r"\{[A-Za-z0-9_]+\}")


@dataclass(frozen=True)
class Heard:
    text: str
    input_mode: str  # Lex's Text or Speech
    audio: bytes = b""  # speech as a 16 kHz mono WAV, for audio logs


def transcript_of(bot: BotLocale, content_type: str, body: bytes, hinted: list[str] | None = None) -> Heard:
    """The utterance's text and Lex's input mode; ``hinted`` phrases (the request's runtime hints)
    join the recognizer's vocabulary."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "text/plain":
        try:
            return Heard(body.decode("utf-8"), "Text")
        except UnicodeDecodeError:
            raise validation("The text input stream is not valid UTF-8.") from None
    if not media_type.startswith("audio/"):
        raise validation(f"Content type {content_type or '(none)'} is not supported for the input stream.")
    if not bot.locale_id.startswith("en_"):
        raise validation(
            f"Speech input is not supported for the locale {bot.locale_id} in Nimbus: it has no offline "
            "speech recognizer for this language. Send the utterance as text/plain."
        )
    try:
        pcm = decode_audio(body, content_type)
    except AudioFormatError as error:
        raise validation(f"Invalid audio input stream: {error}") from None
    return Heard(_recognizer(bot, hinted or []).transcribe(pcm).text, "Speech", encode_wav(pcm))


def _recognizer(bot: BotLocale, hinted: list[str]) -> SpeechRecognizer:
    phrases = bot_phrases(bot) + hinted
    return SpeechRecognizer.for_phrases(phrases) if phrases else SpeechRecognizer.generic()


def bot_phrases(bot: BotLocale) -> list[str]:
    """What users of the bot say: its sample utterances (slot references left out), slot values and
    their synonyms, and yes and no for confirmations."""
    phrases = ["yes", "no"]
    for intent in bot.snapshot["intents"]:
        for sample in intent.get("sampleUtterances") or []:
            phrases.append(_SLOT_REFERENCE.sub(" ", sample["utterance"]))
    for slot_type in bot.slot_types():
        for value in slot_type.get("slotTypeValues") or []:
            phrases.append(value["sampleValue"]["value"])
            phrases += [synonym["value"] for synonym in value.get("synonyms") or []]
    return [phrase for phrase in phrases if phrase.strip()]
