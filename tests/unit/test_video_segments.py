"""The segment engine on synthetic frames: cuts, motion inside a shot, black frames."""

from __future__ import annotations

import numpy as np

from nimbus.engines.vision.image import DecodedImage
from nimbus.engines.vision.segments import detect_segments
from nimbus.engines.vision.video import VideoFrame

FRAME_MS = 100.0  # 10 fps


def frames_of(pictures: list[np.ndarray]) -> list[VideoFrame]:
    return [
        VideoFrame(number, round(number * FRAME_MS), DecodedImage(pixels, "VIDEO", None))
        for number, pixels in enumerate(pictures)
    ]


def gradient(colour: tuple[int, int, int]) -> np.ndarray:
    ramp = np.linspace(0.3, 1.0, 160, dtype=np.float32)[np.newaxis, :, np.newaxis]
    return np.broadcast_to(ramp * np.array(colour, dtype=np.float32), (90, 160, 3)).astype(np.uint8)


def test_cuts_split_shots_and_motion_does_not() -> None:
    red, blue = gradient((250, 40, 40)), gradient((40, 40, 250))
    moving_red = [np.roll(red, shift, axis=1) for shift in range(0, 20, 2)]
    found = detect_segments(frames_of(moving_red + [blue] * 10), FRAME_MS)
    assert [(shot.first, shot.last, shot.start_ms, shot.end_ms) for shot in found.shots] == [
        (0, 9, 0, 1000),
        (10, 19, 1000, 2000),
    ]
    assert found.black_frames == []
    assert all(50.0 <= shot.confidence <= 100.0 for shot in found.shots)


def test_black_frames_are_a_cue_and_leave_the_shots() -> None:
    red, black = gradient((250, 40, 40)), np.zeros((90, 160, 3), np.uint8)
    nearly_black = black.copy()
    nearly_black[:5, :5] = 255  # 25 of 14,400 pixels lit: 99.8% coverage
    found = detect_segments(frames_of([red] * 5 + [black] * 3 + [nearly_black] * 2 + [red] * 5), FRAME_MS)
    assert [(run.first, run.last) for run in found.black_frames] == [(5, 9)]
    assert [(shot.first, shot.last) for shot in found.shots] == [(0, 4), (10, 14)]
    strict = detect_segments(
        frames_of([red] * 5 + [black] * 3 + [nearly_black] * 2 + [red] * 5),
        FRAME_MS,
        min_coverage_percent=100.0,
    )
    assert [(run.first, run.last) for run in strict.black_frames] == [(5, 7)]
