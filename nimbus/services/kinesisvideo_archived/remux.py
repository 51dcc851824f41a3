"""A stream's fragments as fragmented MP4, for GetClip and the HLS and DASH sessions: the
initialization segment from a fragment's H.264 track, and one media segment per fragment, placed on
the producer's clock. Streams of other codecs get AWS's errors for media it cannot package."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from nimbus.engines.media.ebml import EbmlError
from nimbus.engines.media.matroska import Frame, StreamHeader, Track, fragment_file_frames
from nimbus.engines.media.mp4 import init_segment, media_segment, samples_of
from nimbus.errors import AwsError
from nimbus.services.kinesisvideo.fragments import fragment_path
from nimbus.storage import Storage

H264 = "V_MPEG4/ISO/AVC"


def _fragment(storage: Storage, row: Row[Any]) -> tuple[StreamHeader, list[Frame]]:
    try:
        return fragment_file_frames(fragment_path(storage, row).read_bytes())
    except (EbmlError, OSError) as error:
        raise AwsError("InvalidMediaFrameException", f"A fragment could not be read: {error}", 400) from None


def video_track(header: StreamHeader) -> Track:
    """The H.264 track MP4 is made of (the first; other tracks are left out)."""
    track = next((track for track in header.tracks.values() if track.codec_id == H264), None)
    if track is None:
        codecs = ", ".join(sorted(track.codec_id for track in header.tracks.values()))
        raise AwsError(
            "UnsupportedStreamMediaTypeException",
            f"The stream's tracks are {codecs}; Nimbus packages H.264 ({H264}) video only.",
            400,
        )
    if not track.codec_private:
        raise AwsError("MissingCodecPrivateDataException", "The H.264 track has no codec private data.", 400)
    if track.codec_private[0] != 1 or len(track.codec_private) < 7:
        raise AwsError(
            "InvalidCodecPrivateDataException",
            "The H.264 track's codec private data is not an AVCDecoderConfigurationRecord.",
            400,
        )
    return track


def initialization(storage: Storage, row: Row[Any]) -> tuple[Track, bytes]:
    track = video_track(_fragment(storage, row)[0])
    return track, init_segment(track.codec_private, track.width or 0, track.height or 0)


def segment(storage: Storage, row: Row[Any], start_ms: int) -> bytes:
    """The fragment as an MP4 media segment whose first frame shows at ``start_ms``."""
    header, frames = _fragment(storage, row)
    track = video_track(header)
    video = [frame for frame in frames if frame.track == track.number]
    if not video:
        raise AwsError("InvalidMediaFrameException", "A fragment has no frame of the H.264 track.", 400)
    return media_segment(row.id, samples_of(video, start_ms))


def codecs(track: Track) -> str:
    """The RFC 6381 codec string (avc1.PPCCLL) HLS and DASH announce."""
    return "avc1." + track.codec_private[1:4].hex()
