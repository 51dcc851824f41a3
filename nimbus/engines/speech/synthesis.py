"""Text to speech with the espeak-ng program (Debian package ``espeak-ng``)."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from nimbus.engines.speech.audio import AudioFormatError, decode_audio

SYNTHESIS_TIMEOUT_S = 60
_VOICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+-]*")


class SpeechSynthesisError(RuntimeError):
    """espeak-ng is missing, refused the voice, or produced no usable audio."""


def synthesize(text: str, voice: str = "en-us", words_per_minute: int = 160) -> bytes:
    """Speak ``text``: raw 16 kHz mono little-endian int16 PCM (empty for silent text)."""
    if not _VOICE.fullmatch(voice):
        raise SpeechSynthesisError(f"invalid voice name: {voice!r}")
    with tempfile.TemporaryDirectory(prefix="nimbus-tts-") as folder:
        wav_path = Path(folder, "speech.wav")
        _run_espeak(text, voice, words_per_minute, wav_path)
        try:
            pcm = decode_audio(wav_path.read_bytes(), "audio/wav")
        except AudioFormatError as error:
            raise SpeechSynthesisError(f"espeak-ng wrote unreadable audio: {error}") from error
    return pcm.astype("<i2").tobytes()


def _run_espeak(text: str, voice: str, words_per_minute: int, wav_path: Path) -> None:
    # Text goes through stdin, never argv, so it cannot be read as an option.
    command = ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdin", "-w", str(wav_path)]
    try:
        result = subprocess.run(
            command, input=text, capture_output=True, text=True, timeout=SYNTHESIS_TIMEOUT_S, check=False
        )
    except FileNotFoundError as error:
        raise SpeechSynthesisError("espeak-ng is not installed (Debian package espeak-ng)") from error
    except subprocess.TimeoutExpired as error:
        raise SpeechSynthesisError(f"espeak-ng took longer than {SYNTHESIS_TIMEOUT_S} s") from error
    if result.returncode != 0:
        raise SpeechSynthesisError(f"espeak-ng failed: {result.stderr.strip() or result.returncode}")
