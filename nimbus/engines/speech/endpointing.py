"""Where a spoken utterance ends in audio that arrives in pieces (a live stream), by frame energy.

A 20 ms frame is speech when its energy stands well above the quietest frames heard so far (the
noise floor) and above an absolute floor; once speech has begun, the utterance ends after
``end_silence_ms`` without speech, or when it reaches ``max_length_ms``.
"""

from __future__ import annotations

import numpy as np

from nimbus.engines.speech.audio import TARGET_RATE

FRAME = TARGET_RATE // 50  # 20 ms
MIN_SPEECH_RMS = 300.0  # int16 units, about -40 dBFS: quieter is never speech
NOISE_MARGIN = 4.0  # speech is this many times louder than the noise floor


class Endpointer:
    def __init__(self, end_silence_ms: int = 600, max_length_ms: int = 15000) -> None:
        self.end_silence_frames = max(1, end_silence_ms // 20)
        self.max_frames = max(1, max_length_ms // 20)
        self.speech_started = False
        self._frames = 0
        self._silent_frames = 0
        self._noise_floor = float("inf")
        self._partial = np.zeros(0, dtype=np.int16)

    def add(self, pcm: np.ndarray) -> bool:
        """Takes 16 kHz mono int16 samples; True once the utterance has ended."""
        samples = np.concatenate([self._partial, pcm])
        whole = len(samples) // FRAME * FRAME
        self._partial = samples[whole:]
        for frame in samples[:whole].reshape(-1, FRAME).astype(np.float64):
            rms = float(np.sqrt(np.mean(frame * frame)))
            self._noise_floor = min(self._noise_floor, max(rms, 1.0))
            speech = rms >= MIN_SPEECH_RMS and rms >= NOISE_MARGIN * self._noise_floor
            self.speech_started |= speech
            self._silent_frames = 0 if speech else self._silent_frames + 1
            self._frames += self.speech_started
            if self.speech_started and (
                self._silent_frames >= self.end_silence_frames or self._frames >= self.max_frames
            ):
                return True
        return False
