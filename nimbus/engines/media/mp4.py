"""Fragmented MP4 (ISO BMFF, as CMAF and HLS/DASH use it) of one H.264 track: an initialization
segment (ftyp, moov) and one media segment (moof, mdat) per Kinesis Video fragment. The samples are
the fragments' own H.264 frames, which Matroska already keeps as MP4 does (length-prefixed NAL units
described by an avcC record): a remux, no decoding."""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass

from nimbus.engines.media.matroska import Frame

TIMESCALE = 1000  # sample times in milliseconds, Matroska's usual unit
TRACK_ID = 1
DEFAULT_FRAME_MS = 33  # the duration of a fragment's only frame
_IDENTITY_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
_SYNC_SAMPLE = 0x02000000  # sample_depends_on = 2: an I-frame
_NON_SYNC_SAMPLE = 0x01010000  # depends on others, sample_is_non_sync_sample
_TRUN_FLAGS = 0x000F01  # data offset, and each sample's duration, size, flags, composition offset


@dataclass(frozen=True)
class Sample:
    decode_ms: int
    composition_offset_ms: int  # presentation time minus decode time (negative with B-frames)
    duration_ms: int
    key_frame: bool
    data: bytes


def _box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def init_segment(avc_configuration: bytes, width: int, height: int) -> bytes:
    """ftyp and moov for one H.264 track whose samples come in movie fragments."""
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isom", b"iso6", b"avc1", b"mp41")
    mvhd = _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIIIIH", 0, 0, TIMESCALE, 0, 0x10000, 0x100),
        bytes(10),
        _IDENTITY_MATRIX,
        bytes(24),
        struct.pack(">I", TRACK_ID + 1),
    )
    tkhd = _full_box(
        b"tkhd",
        0,
        3,  # enabled, in the movie
        struct.pack(">IIIII", 0, 0, TRACK_ID, 0, 0),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),
        _IDENTITY_MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, TIMESCALE, 0, 0x55C4, 0))  # "und"
    hdlr = _full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
    avc1 = _box(
        b"avc1",
        bytes(6),
        struct.pack(">H", 1),  # data reference index
        bytes(16),
        struct.pack(">HHII", width, height, 0x480000, 0x480000),  # 72 dpi
        bytes(4),
        struct.pack(">H", 1),  # frames per sample
        bytes(32),  # compressor name
        struct.pack(">Hh", 0x18, -1),
        _box(b"avcC", avc_configuration),
    )
    empty_tables = (
        _full_box(b"stts", 0, 0, bytes(4))
        + _full_box(b"stsc", 0, 0, bytes(4))
        + _full_box(b"stsz", 0, 0, bytes(8))
        + _full_box(b"stco", 0, 0, bytes(4))
    )
    stbl = _box(b"stbl", _full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1), empty_tables)
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    minf = _box(b"minf", _full_box(b"vmhd", 0, 1, bytes(8)), dinf, stbl)
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))
    mvex = _box(b"mvex", _full_box(b"trex", 0, 0, struct.pack(">IIIII", TRACK_ID, 1, 0, 0, 0)))
    return ftyp + _box(b"moov", mvhd, trak, mvex)


def media_segment(sequence_number: int, samples: list[Sample]) -> bytes:
    """moof and mdat of ``samples`` (in decode order, the first a key frame)."""

    def moof(data_offset: int) -> bytes:
        entries = b"".join(
            struct.pack(
                ">IIIi",
                sample.duration_ms,
                len(sample.data),
                _SYNC_SAMPLE if sample.key_frame else _NON_SYNC_SAMPLE,
                sample.composition_offset_ms,
            )
            for sample in samples
        )
        trun = _full_box(b"trun", 1, _TRUN_FLAGS, struct.pack(">Ii", len(samples), data_offset), entries)
        tfhd = _full_box(b"tfhd", 0, 0x020000, struct.pack(">I", TRACK_ID))  # default base is moof
        tfdt = _full_box(b"tfdt", 1, 0, struct.pack(">Q", samples[0].decode_ms))
        return _box(
            b"moof",
            _full_box(b"mfhd", 0, 0, struct.pack(">I", sequence_number)),
            _box(b"traf", tfhd, tfdt, trun),
        )

    header_size = len(moof(0))
    return moof(header_size + 8) + _box(b"mdat", *(sample.data for sample in samples))


def samples_of(frames: list[Frame], start_ms: int) -> list[Sample]:
    """Samples of one fragment's frames (in decode order, with Matroska's presentation times), its
    earliest frame shown at ``start_ms``. Decode times are the presentation times in rising order,
    as a decoder needs them when B-frames come before the frames they are shown after."""
    first = min(frame.presentation_ms for frame in frames)
    presentation = [start_ms + round(frame.presentation_ms - first) for frame in frames]
    decode = sorted(presentation)
    durations = [later - earlier for earlier, later in itertools.pairwise(decode)]
    typical = sorted(durations)[len(durations) // 2] if durations else DEFAULT_FRAME_MS
    durations.append(typical)
    return [
        Sample(
            decode[index],
            presentation[index] - decode[index],
            max(durations[index], 1),
            frame.key_frame,
            frame.data,
        )
        for index, frame in enumerate(frames)
    ]
