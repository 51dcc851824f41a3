"""Video segments: shot changes found by frame differencing, and black frames (a technical cue).

Every frame is looked at, scaled down to a thumbnail. A shot boundary is where two consecutive
frames differ both in their colour histograms (half the L1 distance of normalised 16-bin histograms
per RGB channel, 0..1) and pixel by pixel (mean absolute difference of the grey levels, 0..1): a
cut changes both, while motion inside a shot moves pixels but keeps the histogram, and a fade
changes little between any two frames. The histogram threshold adapts to the footage: a boundary's
distance is at least ``CUT_HISTOGRAM_DISTANCE`` and ``CUT_RATIO`` times the mean distance of the
``RECENT_FRAMES`` frames before it (busy footage needs a bigger jump than a still shot).

A frame is black when at least ``min_coverage_percent`` of its pixels have a luma at or below
``max_pixel_threshold`` (Rekognition's BlackFrame filter, with AWS's defaults 0.2 and 99%). Shots
are the runs of frames between boundaries, black frames left out; black frames form runs of their
own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from nimbus.engines.vision.video import VideoFrame

SHOT_MODEL_VERSION = "Nimbus frame-difference 1.0"
TECHNICAL_CUE_MODEL_VERSION = "Nimbus black-frame 1.0"
THUMBNAIL_SIZE = (160, 90)  # width, height: enough to see a cut, cheap to decode into
HISTOGRAM_BINS = 16
CUT_HISTOGRAM_DISTANCE = 0.15
CUT_RATIO = 6.0
RECENT_FRAMES = 10
CUT_PIXEL_DIFFERENCE = 0.05
DEFAULT_MAX_PIXEL_THRESHOLD = 0.2
DEFAULT_MIN_COVERAGE_PERCENT = 99.0
MIN_CONFIDENCE, MAX_CONFIDENCE = 50.0, 100.0  # Rekognition's SegmentConfidence range


@dataclass(frozen=True)
class FrameRun:
    """Frames ``first``..``last`` (inclusive) and their presentation times."""

    first: int
    last: int
    start_ms: int
    end_ms: int  # the end of the last frame
    confidence: float  # 50..100


@dataclass(frozen=True)
class Segments:
    shots: list[FrameRun]
    black_frames: list[FrameRun]


def _histogram(pixels: np.ndarray) -> np.ndarray:
    counts = [
        np.bincount(pixels[..., channel].ravel() // (256 // HISTOGRAM_BINS), minlength=HISTOGRAM_BINS)
        for channel in range(3)
    ]
    histogram = np.concatenate(counts).astype(np.float64)
    return histogram / histogram.sum()


def _luma(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255.0


def _scaled_confidence(value: float, threshold: float) -> float:
    """50 at the threshold, 100 where ``value`` reaches twice it (capped)."""
    share = min(1.0, max(0.0, (value - threshold) / threshold))
    return MIN_CONFIDENCE + (MAX_CONFIDENCE - MIN_CONFIDENCE) * share


def detect_segments(
    frames: Iterable[VideoFrame],
    frame_duration_ms: float,
    max_pixel_threshold: float = DEFAULT_MAX_PIXEL_THRESHOLD,
    min_coverage_percent: float = DEFAULT_MIN_COVERAGE_PERCENT,
) -> Segments:
    """Shots and black-frame runs of ``frames`` (thumbnails of every frame, in order)."""
    shots: list[FrameRun] = []
    blacks: list[FrameRun] = []
    shot: list[tuple[VideoFrame, float]] = []  # the open shot's frames, the first with its cut confidence
    black: list[tuple[VideoFrame, float]] = []
    previous: tuple[np.ndarray, np.ndarray] | None = None
    recent: deque[float] = deque(maxlen=RECENT_FRAMES)  # histogram distances of the frames before

    def close(run: list[tuple[VideoFrame, float]], into: list[FrameRun], confidence: float) -> None:
        if run:
            first, last = run[0][0], run[-1][0]
            end_ms = round(last.timestamp_ms + frame_duration_ms)
            into.append(FrameRun(first.number, last.number, first.timestamp_ms, end_ms, confidence))
            run.clear()

    for frame in frames:
        pixels = frame.image.pixels
        histogram, luma = _histogram(pixels), _luma(pixels)
        coverage = 100.0 * float(np.mean(luma <= max_pixel_threshold))
        cut_confidence = MAX_CONFIDENCE
        is_cut = previous is None
        if previous is not None:
            histogram_distance = 0.5 * float(np.abs(histogram - previous[0]).sum())
            pixel_difference = float(np.abs(luma - previous[1]).mean())
            threshold = max(CUT_HISTOGRAM_DISTANCE, CUT_RATIO * float(np.mean(recent)) if recent else 0.0)
            is_cut = histogram_distance >= threshold and pixel_difference >= CUT_PIXEL_DIFFERENCE
            cut_confidence = min(
                _scaled_confidence(histogram_distance, threshold),
                _scaled_confidence(pixel_difference, CUT_PIXEL_DIFFERENCE),
            )
            recent.append(histogram_distance)
        previous = histogram, luma
        if coverage >= min_coverage_percent:
            close(shot, shots, shot[0][1] if shot else MAX_CONFIDENCE)
            black.append((frame, _black_confidence(coverage, min_coverage_percent)))
            continue
        if black:
            close(black, blacks, min(confidence for _, confidence in black))
        if is_cut and shot:
            close(shot, shots, shot[0][1])
        shot.append((frame, cut_confidence if is_cut else MAX_CONFIDENCE))
    close(shot, shots, shot[0][1] if shot else MAX_CONFIDENCE)
    close(black, blacks, min((confidence for _, confidence in black), default=MAX_CONFIDENCE))
    return Segments(shots, blacks)


def _black_confidence(coverage: float, min_coverage: float) -> float:
    """50 at the least coverage that counts, 100 when every pixel is dark."""
    if min_coverage >= 100.0:
        return MAX_CONFIDENCE
    share = (coverage - min_coverage) / (100.0 - min_coverage)
    return MIN_CONFIDENCE + (MAX_CONFIDENCE - MIN_CONFIDENCE) * share
