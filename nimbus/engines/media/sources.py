"""H.264 video from a file or an RTSP URL, packet by packet without decoding (OpenCV's FFmpeg in its
raw mode): what a producer sends to Kinesis Video Streams as it is. The OpenCV wheel has no H.264
encoder (x264 is GPL), so a source must already carry H.264: cameras are read through their RTSP
URL, not as raw frames."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2

from nimbus.engines.media.h264 import avc_configuration, to_avcc


class UnsupportedSource(ValueError):
    """A source FFmpeg cannot open, or whose video is not H.264."""


@dataclass(frozen=True)
class Packet:
    timestamp_ms: int  # presentation time from the source's start
    key_frame: bool
    data: bytes  # AVCC (length-prefixed NAL units)


@dataclass(frozen=True)
class H264Source:
    codec_private: bytes  # the avcC record
    width: int
    height: int
    packets: Iterator[Packet]


def open_h264(location: str) -> H264Source:
    capture = cv2.VideoCapture(location, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise UnsupportedSource(f"FFmpeg cannot open {location}.")
    fourcc = (
        int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("latin-1").strip("\0 ").lower()
    )
    if fourcc not in ("avc1", "h264", "x264", "avc3", ""):
        capture.release()
        raise UnsupportedSource(f"The video of {location} is {fourcc}, not H.264.")
    capture.set(cv2.CAP_PROP_FORMAT, -1)  # raw packets, not decoded frames
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if not capture.grab():
        capture.release()
        raise UnsupportedSource(f"{location} has no video packet.")
    retrieved, extradata = capture.retrieve(flag=int(capture.get(cv2.CAP_PROP_CODEC_EXTRADATA_INDEX)))
    if not retrieved or extradata is None:
        capture.release()
        raise UnsupportedSource(f"{location} does not describe its H.264 stream (no SPS/PPS).")
    return H264Source(avc_configuration(extradata.tobytes()), width, height, _packets(capture))


def _packets(capture: cv2.VideoCapture) -> Iterator[Packet]:
    """From the packet already grabbed on."""
    try:
        while True:
            retrieved, packet = capture.retrieve()
            if retrieved and packet is not None and packet.size:
                yield Packet(
                    round(capture.get(cv2.CAP_PROP_POS_MSEC)),
                    bool(capture.get(cv2.CAP_PROP_LRF_HAS_KEY_FRAME)),
                    to_avcc(packet.tobytes()),
                )
            if not capture.grab():
                return
    finally:
        capture.release()
