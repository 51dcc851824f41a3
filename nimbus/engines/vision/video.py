"""Decoding stored video with OpenCV (its wheel bundles an LGPL build of FFmpeg, whose own H.264
decoder it uses): the video's metadata, and its frames as RGB pixels, either every frame or sampled
at a fixed rate.

Only MP4 and MOV files (told by their ISO-BMFF / QuickTime boxes) with an H.264 video stream are
accepted, as Rekognition Video accepts; anything else, and a file that cannot be read through, raises
``InvalidVideoError`` saying why. OpenCV tells nothing of audio streams or of the colour range, so
``VideoInfo`` has neither.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2

from nimbus.engines.vision.image import DecodedImage

CODEC = "h264"
# The codec tags of H.264 in MP4 and MOV, lower-cased; OpenCV reports "h264" for a stream without a tag.
H264_FOURCCS = frozenset({"avc1", "avc2", "avc3", "avc4", "h264", "x264"})
# FFmpeg's name for its one demuxer of MP4 and MOV, which AWS reports as the Format of both
FORMAT_NAME = "QuickTime / MOV"
# Old QuickTime files start with one of these atoms instead of an ftyp box
QUICKTIME_FIRST_ATOMS = frozenset({b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"})
BOX_HEADER = struct.Struct(">I4s")  # size (header included), type
UNKNOWN_DURATION_V0 = 0xFFFFFFFF  # mvhd's 32-bit duration when the writer did not know it


class InvalidVideoError(ValueError):
    """Not an MP4/MOV with H.264 video, or corrupt."""


@dataclass(frozen=True)
class VideoInfo:
    codec: str  # "h264"
    format: str  # "QuickTime / MOV"
    duration_ms: int
    frame_rate: float
    width: int
    height: int


@dataclass(frozen=True)
class VideoFrame:
    number: int  # 0-based, in decoding order
    timestamp_ms: int
    image: DecodedImage


def probe_video(path: Path) -> VideoInfo:
    """The file's and the video stream's metadata (no frame is decoded)."""
    duration_ms = _checked_duration_ms(path)
    capture = _open(path)
    try:
        frame_rate = capture.get(cv2.CAP_PROP_FPS)
        if duration_ms == 0 and frame_rate > 0:  # a fragmented MP4 leaves mvhd's duration 0
            duration_ms = round(capture.get(cv2.CAP_PROP_FRAME_COUNT) / frame_rate * 1000)
        return VideoInfo(
            codec=CODEC,
            format=FORMAT_NAME,
            duration_ms=duration_ms,
            frame_rate=frame_rate,
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        capture.release()


def frames(
    path: Path, sample_fps: float | None = None, size: tuple[int, int] | None = None
) -> Iterator[VideoFrame]:
    """The decoded frames in presentation order: all of them, or, with ``sample_fps``, the first frame
    at or after each multiple of 1/sample_fps seconds (so a 10 s video at 1 fps gives frames at about
    0, 1, ... 9 s). ``size`` (width, height) scales them down (area averaging)."""
    _checked_duration_ms(path)  # an MP4 or MOV, before FFmpeg reads it
    interval_ms = None if sample_fps is None else 1000.0 / sample_fps
    next_due_ms = 0.0
    capture = _open(path)
    try:
        number = -1
        while capture.grab():  # decodes; only the frames kept are converted to pixels (retrieve)
            number += 1
            timestamp_ms = round(capture.get(cv2.CAP_PROP_POS_MSEC))
            if interval_ms is not None:
                if timestamp_ms < next_due_ms:
                    continue
                next_due_ms += interval_ms * (1 + (timestamp_ms - next_due_ms) // interval_ms)
            retrieved, bgr = capture.retrieve()
            if not retrieved:
                raise InvalidVideoError(f"The video could not be decoded: frame {number} is unreadable.")
            if size is not None:
                bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
            pixels = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # OpenCV's frames are BGR
            yield VideoFrame(number, max(0, timestamp_ms), DecodedImage(pixels, "VIDEO", None))
        if number < 0:
            raise InvalidVideoError("The video could not be decoded: not one of its frames is readable.")
    finally:
        capture.release()


def _open(path: Path) -> cv2.VideoCapture:
    # FFmpeg only: OpenCV's other backends would read a "%d" in the name as an image sequence
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise InvalidVideoError("The video could not be opened: it has no video stream FFmpeg can read.")
    fourcc = (
        (int(capture.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF)
        .to_bytes(4, "little")
        .decode("latin-1")
        .strip("\0 ")
    )
    if fourcc.lower() not in H264_FOURCCS:
        capture.release()
        raise InvalidVideoError(f"Videos must be H.264; this one's codec is {fourcc or 'another'}.")
    return capture


def _checked_duration_ms(path: Path) -> int:
    """The duration in the movie header (moov/mvhd), read without decoding (0 where it is not known);
    raises InvalidVideoError for a file that is not MP4 or MOV, or lacks the moov box (the index of
    its frames)."""
    with open(path, "rb") as handle:
        file_size = os.fstat(handle.fileno()).st_size
        boxes = _boxes(handle, 0, file_size)
        first = next(boxes, None)
        if first is None or (first[0] != b"ftyp" and first[0] not in QUICKTIME_FIRST_ATOMS):
            raise InvalidVideoError("Videos must be MP4 or MOV; this file does not start as one does.")
        moov = first if first[0] == b"moov" else next((box for box in boxes if box[0] == b"moov"), None)
        if moov is None:
            raise InvalidVideoError(
                "The video has no moov box (the index of its frames): it is cut short or corrupt."
            )
        mvhd = next((box for box in _boxes(handle, moov[1], moov[2]) if box[0] == b"mvhd"), None)
        if mvhd is None:
            raise InvalidVideoError("The video's moov box has no movie header (mvhd): it is corrupt.")
        handle.seek(mvhd[1])
        header = handle.read(32)
    version_1 = header[:1] == b"\x01"  # 64-bit creation and modification times and duration
    try:
        if version_1:
            timescale, duration = struct.unpack_from(">IQ", header, 20)
        else:
            timescale, duration = struct.unpack_from(">II", header, 12)
    except struct.error:
        raise InvalidVideoError("The video's movie header (mvhd) is cut short: it is corrupt.") from None
    if timescale == 0 or (not version_1 and duration == UNKNOWN_DURATION_V0):
        return 0
    return round(duration * 1000 / timescale)


def _boxes(handle: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The boxes (atoms) one after another from byte ``start`` to ``end``: (type, where its body
    starts, where the box ends). Only headers are read, so an mdat of gigabytes costs nothing."""
    offset = start
    while offset + BOX_HEADER.size <= end:
        handle.seek(offset)
        size, box_type = BOX_HEADER.unpack(handle.read(BOX_HEADER.size))
        body = offset + BOX_HEADER.size
        if size == 1:  # a 64-bit size follows the type
            large_size = handle.read(8)
            if len(large_size) < 8:
                return
            (size,) = struct.unpack(">Q", large_size)
            body += 8
        elif size == 0:  # the last box, running to the end
            size = end - offset
        if size < body - offset:
            raise InvalidVideoError(
                f"The video is corrupt: its {box_type!r} box says it is {size} bytes long."
            )
        yield box_type, body, offset + size
        offset += size
