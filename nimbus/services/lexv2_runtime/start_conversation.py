"""StartConversation: a conversation over one bidirectional event stream (HTTP/2 for the AWS SDKs).

The client configures the stream first (ConfigurationEvent), then speaks (AudioInputEvent: 16-bit
PCM, the utterance ends when the speaker stops), types (TextInputEvent) or keys (DTMFInputEvent,
ended by the end key or a pause). Each utterance is one turn of the same dialog as RecognizeText and
RecognizeUtterance, answered with a TranscriptEvent (speech and DTMF), an IntentResultEvent and a
TextResponseEvent, plus AudioResponseEvents spoken by espeak-ng when the configured response content
type is ``audio/pcm``. A turn taken while a spoken answer still plays is announced with a
PlaybackInterruptionEvent; PlaybackCompletionEvent says it finished. A HeartbeatEvent goes out when
the client has been silent for a while; DisconnectionEvent (or the end of the input) ends the stream.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np

from nimbus.engines.speech import SpeechSynthesisError, synthesize
from nimbus.engines.speech.audio import TARGET_RATE, parse_content_type, resample, to_int16
from nimbus.services.lexv2_runtime import lexv2_runtime
from nimbus.services.lexv2_runtime.bot_locale import BotLocale
from nimbus.services.lexv2_runtime.dialog import Utterance
from nimbus.services.lexv2_runtime.errors import validation
from nimbus.services.lexv2_runtime.recognize import MAX_TEXT
from nimbus.services.lexv2_runtime.speech_input import transcript_of
from nimbus.services.lexv2_runtime.start_conversation_input import END, QUIET, Inbox, KeyedInput, SpokenInput
from nimbus.services.lexv2_runtime.targets import open_bot_locale
from nimbus.services.lexv2_runtime.turns import take_turn
from nimbus.services.registry import RequestContext

HEARTBEAT_S = 5.0  # a quiet client hears from the stream this often
FIRST_EVENT_S = 30.0  # how long the stream waits for its ConfigurationEvent
AUDIO_CHUNK = TARGET_RATE * 2  # bytes of a spoken answer per AudioResponseEvent (one second at 16 kHz)
AUDIO_RATES = (8000, 16000)
_INTERRUPTION = {"AudioInputEvent": "VOICE_START_DETECTED", "TextInputEvent": "TEXT_DETECTED"}


@lexv2_runtime.operation
def start_conversation(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Spoken answers are 16-bit PCM only (``audio/pcm; sample-rate=8000|16000``, espeak-ng voices):
    ``audio/mpeg`` and ``audio/ogg`` are refused with ValidationException. The end of speech is found by
    frame energy; events must be signed on the same UTC day as the request; fulfillment update
    messages are not played."""
    bot = open_bot_locale(ctx, request)  # an unknown bot is an error before the stream begins
    conversation = StreamedConversation(ctx, request, bot)
    return {"responseEventStream": conversation.events(Inbox(request["requestEventStream"]))}


class StreamedConversation:
    def __init__(self, ctx: RequestContext, request: dict[str, Any], bot: BotLocale) -> None:
        self.ctx, self.request, self.bot = ctx, request, bot
        self.mode = request.get("conversationMode") or "AUDIO"
        self.response_content_type = ""
        self.audio_rate = 0  # of spoken answers; 0 when answers are text only
        self.playback = False  # whether the client plays spoken answers and reports their end
        self.playing = False
        self.session_state: dict[str, Any] | None = None  # the caller's, for the first turn
        self.attributes: dict[str, str] = {}
        self.spoken = SpokenInput.for_session({})
        self.keyed = KeyedInput.for_session({})
        self._ids = (f"nimbus-{number}" for number in itertools.count(1))

    def events(self, inbox: Inbox) -> Iterator[dict[str, Any]]:
        first = inbox.next(FIRST_EVENT_S)
        if first is END or first is QUIET:
            return
        assert isinstance(first, dict)
        if "ConfigurationEvent" not in first:
            raise validation("The first event of a conversation must be a ConfigurationEvent.")
        yield from self._configure(first["ConfigurationEvent"])
        while True:
            waiting_keys = bool(self.keyed.keys)
            event = inbox.next(self.keyed.end_timeout_ms / 1000 if waiting_keys else HEARTBEAT_S)
            if event is QUIET:
                yield from self._turn(self.keyed.take(), "DTMF") if waiting_keys else self._heartbeat()
                continue
            if event is END or (isinstance(event, dict) and "DisconnectionEvent" in event):
                if self.spoken.heard_speech:
                    yield from self._spoken_turn()
                return
            assert isinstance(event, dict)
            ((name, fields),) = event.items()
            yield from self._take(name, fields)

    def _take(self, name: str, fields: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if name == "ConfigurationEvent":
            raise validation("A conversation is configured once, by its first event.")
        if name == "PlaybackCompletionEvent":
            self.playing = False
            return
        if name in ("AudioInputEvent", "DTMFInputEvent") and self.mode == "TEXT":
            raise validation(f"A conversation in TEXT mode takes text only, not {name}.")
        if name == "AudioInputEvent":
            ended = self.spoken.add(fields.get("audioChunk") or b"", fields["contentType"])
            if self.spoken.heard_speech:
                yield from self._interrupt(name, fields)
            if ended:
                yield from self._spoken_turn()
        elif name == "TextInputEvent":
            yield from self._interrupt(name, fields)
            yield from self._turn(fields["text"], "Text")
        elif name == "DTMFInputEvent":
            yield from self._interrupt(name, fields)
            if self.keyed.add(fields["inputCharacter"]):
                yield from self._turn(self.keyed.take(), "DTMF")

    def _configure(self, configuration: dict[str, Any]) -> Iterator[dict[str, Any]]:
        media_type, params = parse_content_type(configuration["responseContentType"])
        if media_type == "audio/pcm" and int(params.get("sample-rate") or 16000) in AUDIO_RATES:
            self.audio_rate = int(params.get("sample-rate") or 16000)
        elif media_type != "text/plain":
            raise validation(
                f"responseContentType {configuration['responseContentType']!r} is not supported: use "
                "text/plain; charset=utf-8 or audio/pcm; sample-rate=8000 or 16000."
            )
        self.response_content_type = configuration["responseContentType"]
        self.playback = bool(self.audio_rate) and not configuration.get("disablePlayback", False)
        self.session_state = configuration.get("sessionState")
        self.attributes = configuration.get("requestAttributes") or {}
        session_attributes = (self.session_state or {}).get("sessionAttributes") or {}
        self.spoken = SpokenInput.for_session(session_attributes)
        self.keyed = KeyedInput.for_session(session_attributes)
        if configuration.get("welcomeMessages"):
            yield from self._answer(configuration["welcomeMessages"])

    def _interrupt(self, name: str, fields: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if self.playing:
            self.playing = False
            reason = _INTERRUPTION.get(name, "DTMF_START_DETECTED")
            interruption = {"eventReason": reason, "eventId": next(self._ids)}
            if fields.get("eventId"):
                interruption["causedByEventId"] = fields["eventId"]
            yield {"PlaybackInterruptionEvent": interruption}

    def _spoken_turn(self) -> Iterator[dict[str, Any]]:
        audio, content_type = self.spoken.take()
        heard = transcript_of(self.bot, content_type, audio)
        yield from self._turn(heard.text, "Speech", heard.audio)

    def _turn(self, text: str, input_mode: str, audio: bytes = b"") -> Iterator[dict[str, Any]]:
        if input_mode != "Text":
            yield {"TranscriptEvent": {"transcript": text, "eventId": next(self._ids)}}
        if not text.strip():
            return  # nothing was recognized: the bot keeps listening
        if len(text) > MAX_TEXT:
            raise validation(f"An utterance is longer than {MAX_TEXT} characters.")
        now = datetime.now(UTC)
        utterance = Utterance(
            text=text,
            session_id=self.request["sessionId"],
            now=now,
            request_attributes=self.attributes,
            input_mode=input_mode,
            response_content_type=self.response_content_type,
            audio=audio,
        )
        conversation = take_turn(self.ctx, self.request, self.bot, utterance, self.session_state)
        self.session_state = None  # the caller's state applies to the first turn; then the stored one
        result: dict[str, Any] = {
            "inputMode": input_mode,
            "interpretations": conversation.interpretations,
            "sessionState": conversation.session_state(now),
            "sessionId": self.request["sessionId"],
            "eventId": next(self._ids),
        }
        if self.attributes:
            result["requestAttributes"] = self.attributes
        yield {"IntentResultEvent": result}
        if conversation.messages:
            yield from self._answer(conversation.messages)

    def _answer(self, messages: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        yield {"TextResponseEvent": {"messages": messages, "eventId": next(self._ids)}}
        spoken = " ".join(message["content"] for message in messages if message.get("content"))
        if not self.audio_rate or not spoken:
            return
        pcm = self._speech(spoken)
        content_type = f"audio/pcm; sample-rate={self.audio_rate}"
        for start in range(0, len(pcm), AUDIO_CHUNK):
            chunk = pcm[start : start + AUDIO_CHUNK]
            yield {
                "AudioResponseEvent": {
                    "audioChunk": chunk,
                    "contentType": content_type,
                    "eventId": next(self._ids),
                }
            }
        self.playing = self.playback

    def _speech(self, text: str) -> bytes:
        """The answer spoken in the locale's espeak-ng voice (its language's when there is none)."""
        locale = self.request["localeId"].lower()
        voices = (locale.replace("_", "-"), locale.split("_")[0])
        for voice in voices:
            try:
                pcm = synthesize(text, voice=voice)
                break
            except SpeechSynthesisError as error:
                failure = error
        else:
            raise validation(f"Spoken answers are not available for {self.request['localeId']}: {failure}")
        if self.audio_rate == TARGET_RATE:
            return pcm
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        return to_int16(resample(samples, TARGET_RATE, self.audio_rate)).astype("<i2").tobytes()

    def _heartbeat(self) -> Iterator[dict[str, Any]]:
        yield {"HeartbeatEvent": {"eventId": next(self._ids)}}
