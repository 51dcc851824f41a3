"""Decoding a fragment's frames (an MKV file of one cluster) with OpenCV's FFmpeg, and encoding a
frame as a JPEG or PNG picture."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


class UndecodableMedia(ValueError):
    """A fragment FFmpeg cannot open or read."""


@dataclass(frozen=True)
class DecodedFrame:
    offset_ms: float  # from the fragment's first frame
    pixels: np.ndarray  # RGB, height x width x 3


def fragment_frames(path: Path, interval_ms: float | None = None) -> Iterator[DecodedFrame]:
    """The fragment's frames in presentation order: all of them, or with ``interval_ms`` the first at
    or after each multiple of it (only those are converted to pixels)."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise UndecodableMedia(f"FFmpeg cannot open the fragment {path.name}.")
    try:
        due = 0.0
        while capture.grab():
            offset = capture.get(cv2.CAP_PROP_POS_MSEC)
            if interval_ms is not None:
                if offset < due:
                    continue
                due = (offset // interval_ms + 1) * interval_ms
            retrieved, bgr = capture.retrieve()
            if retrieved:
                yield DecodedFrame(offset, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()


def encode_picture(
    pixels: np.ndarray, picture_format: str, quality: int = 80, size: tuple[int, int] | None = None
) -> bytes:
    """``pixels`` (RGB) as JPEG or PNG bytes, scaled to ``size`` (width, height) first if given."""
    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    if size is not None:
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    if picture_format == "PNG":
        ok, encoded = cv2.imencode(".png", bgr)
    else:
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise UndecodableMedia(f"The frame could not be encoded as {picture_format}.")
    return encoded.tobytes()
