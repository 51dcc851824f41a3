"""What StartConversation listens with: the client's events as they arrive (with a timeout, so the
stream can send heartbeats and end DTMF input that stops), spoken audio until the speaker stops,
and DTMF keys until the end key. Timeouts and keys follow Lex's session attributes
(``x-amz-lex:audio:end-timeout-ms``, ``x-amz-lex:dtmf:end-character``...)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from typing import Any

from nimbus.engines.speech import AudioFormatError, decode_audio
from nimbus.engines.speech.endpointing import Endpointer
from nimbus.errors import AwsError
from nimbus.services.lexv2_runtime.errors import validation

END = object()  # the client's stream ended
QUIET = object()  # nothing arrived within the wait


class Inbox:
    """The input events, read on their own thread so that waiting for one can time out."""

    def __init__(self, events: Iterator[dict[str, Any]]) -> None:
        self._queue: queue.Queue[object] = queue.Queue()
        threading.Thread(
            target=self._read, args=(events,), name="lex-conversation-input", daemon=True
        ).start()

    def _read(self, events: Iterator[dict[str, Any]]) -> None:
        try:
            for event in events:
                self._queue.put(event)
            self._queue.put(END)
        except AwsError as error:  # a malformed or unsigned event: the conversation ends with it
            self._queue.put(error)
        except CancelledError:  # the server stopped while the client was quiet
            self._queue.put(END)

    def next(self, timeout_s: float) -> object:
        """An event ``{name: fields}``, END, or QUIET after ``timeout_s``; raises a reading error."""
        try:
            item = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return QUIET
        if isinstance(item, AwsError):
            raise item
        return item


def _setting(attributes: dict[str, str], name: str, default: int) -> int:
    text = attributes.get(f"x-amz-lex:{name}", "")
    if not text:
        return default
    if not text.isdigit():
        raise validation(f"Session attribute x-amz-lex:{name} must be a whole number, not {text!r}.")
    return int(text)


@dataclass
class SpokenInput:
    """Audio of one utterance, gathered until the speaker has stopped."""

    end_silence_ms: int
    max_length_ms: int
    content_type: str = ""
    audio: bytearray = field(default_factory=bytearray)
    endpointer: Endpointer | None = None

    @classmethod
    def for_session(cls, attributes: dict[str, str]) -> SpokenInput:
        return cls(
            _setting(attributes, "audio:end-timeout-ms", 600),
            _setting(attributes, "audio:max-length-ms", 15000),
        )

    def add(self, chunk: bytes, content_type: str) -> bool:
        """True once the utterance is complete."""
        if self.content_type and content_type != self.content_type:
            raise validation("The audio content type changed within an utterance.")
        try:
            samples = decode_audio(chunk, content_type)
        except AudioFormatError as error:
            raise validation(f"Invalid audio input: {error}") from None
        if self.endpointer is None:
            self.endpointer = Endpointer(self.end_silence_ms, self.max_length_ms)
        self.content_type = content_type
        self.audio += chunk
        return self.endpointer.add(samples)

    @property
    def heard_speech(self) -> bool:
        return self.endpointer is not None and self.endpointer.speech_started

    def take(self) -> tuple[bytes, str]:
        """The utterance's audio and content type; the input is empty again."""
        audio, content_type = bytes(self.audio), self.content_type
        self.audio.clear()
        self.content_type, self.endpointer = "", None
        return audio, content_type


@dataclass
class KeyedInput:
    """DTMF keys, gathered until the end key, a pause of ``end_timeout_ms`` or ``max_length`` keys;
    the deletion key drops what was keyed."""

    end_character: str
    deletion_character: str
    end_timeout_ms: int
    max_length: int
    keys: str = ""

    @classmethod
    def for_session(cls, attributes: dict[str, str]) -> KeyedInput:
        return cls(
            attributes.get("x-amz-lex:dtmf:end-character") or "#",
            attributes.get("x-amz-lex:dtmf:deletion-character") or "*",
            _setting(attributes, "dtmf:end-timeout-ms", 5000),
            _setting(attributes, "dtmf:max-length", 1024),
        )

    def add(self, key: str) -> bool:
        """True once the keyed input is complete."""
        if key == self.deletion_character:
            self.keys = ""
            return False
        if key == self.end_character:
            return bool(self.keys)
        self.keys += key
        return len(self.keys) >= self.max_length

    def take(self) -> str:
        keys, self.keys = self.keys, ""
        return keys
