"""Matroska element ids, reading a live MKV stream into fragments (one per cluster, as Kinesis Video
Streams defines them), and writing the MKV chunks consumers read back."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from nimbus.engines.media.ebml import (
    UNKNOWN_SIZE_BYTES,
    EbmlError,
    ElementReader,
    Header,
    children,
    element,
    encode_id,
    read_uint,
    string_element,
    uint_element,
)

EBML = 0x1A45DFA3
DOC_TYPE = 0x4282
SEGMENT = 0x18538067
SEEK_HEAD = 0x114D9B74
INFO = 0x1549A966
TIMECODE_SCALE = 0x2AD7B1
TRACKS = 0x1654AE6B
TRACK_ENTRY = 0xAE
TRACK_NUMBER = 0xD7
TRACK_TYPE = 0x83
CODEC_ID = 0x86
CODEC_PRIVATE = 0x63A2
VIDEO = 0xE0
PIXEL_WIDTH = 0xB0
PIXEL_HEIGHT = 0xBA
CLUSTER = 0x1F43B675
TIMECODE = 0xE7
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
BLOCK = 0xA1
REFERENCE_BLOCK = 0xFB
LACING = 0x06  # a block's flag bits that say its frames are laced
CUES = 0x1C53BB6B
TAGS = 0x1254C367
TAG = 0x7373
TARGETS = 0x63C0
SIMPLE_TAG = 0x67C8
TAG_NAME = 0x45A3
TAG_STRING = 0x4487
CHAPTERS = 0x1043A770
ATTACHMENTS = 0x1941A469
VOID = 0xEC
CRC32 = 0xBF

SEGMENT_LEVEL = frozenset({SEEK_HEAD, INFO, TRACKS, CLUSTER, CUES, TAGS, CHAPTERS, ATTACHMENTS, VOID, CRC32})
SKIPPED_AT_SEGMENT_LEVEL = frozenset({SEEK_HEAD, CUES, TAGS, CHAPTERS, ATTACHMENTS, VOID, CRC32})
DOC_TYPES = frozenset({"matroska", "webm"})
DEFAULT_TIMECODE_SCALE_NS = 1_000_000
MAX_TRACKS = 3  # Kinesis Video Streams' limit


class MkvError(EbmlError):
    """A stream Kinesis Video Streams would refuse; ``error_id`` is its PutMedia error id."""

    def __init__(self, message: str, error_id: int = 4006) -> None:
        super().__init__(message)
        self.error_id = error_id


@dataclass(frozen=True)
class Track:
    number: int
    codec_id: str
    codec_private: bytes
    width: int | None
    height: int | None


@dataclass(frozen=True)
class StreamHeader:
    """What a producer sends before its clusters: the EBML header, segment Info and Tracks."""

    ebml: bytes
    info: bytes
    tracks_element: bytes
    timecode_scale_ns: int
    tracks: dict[int, Track]

    def prefix(self) -> bytes:
        """The bytes that make a standalone MKV of one cluster that follows them."""
        return self.ebml + encode_id(SEGMENT) + UNKNOWN_SIZE_BYTES + self.info + self.tracks_element

    def to_ms(self, timecode: int) -> float:
        return timecode * self.timecode_scale_ns / 1e6


@dataclass(frozen=True)
class BufferingStarted:
    """A cluster has begun to arrive (its Timecode is known)."""

    timecode: int


@dataclass(frozen=True)
class Fragment:
    header: StreamHeader
    timecode: int  # the cluster's Timecode, in the stream's timecode units
    cluster: bytes  # the whole Cluster element, with a known size
    frames: int
    key_frame_first: bool
    tracks_seen: frozenset[int]
    block_offsets: list[int] = field(repr=False)  # each block's relative timecode

    @property
    def start_ms(self) -> float:
        return self.header.to_ms(self.timecode + min(self.block_offsets, default=0))

    @property
    def duration_ms(self) -> int:
        """From the first frame to one frame interval past the last."""
        if len(self.block_offsets) < 2:
            return 0
        span = max(self.block_offsets) - min(self.block_offsets)
        return round(self.header.to_ms(span + span / (len(self.block_offsets) - 1)))


def _header(ebml: bytes, info: bytes, tracks: bytes) -> StreamHeader:
    scale = DEFAULT_TIMECODE_SCALE_NS
    for element_id, payload in children(info[_payload_start(info) :]):
        if element_id == TIMECODE_SCALE:
            scale = read_uint(payload) or DEFAULT_TIMECODE_SCALE_NS
    found: dict[int, Track] = {}
    for element_id, payload in children(tracks[_payload_start(tracks) :]):
        if element_id == TRACK_ENTRY:
            track = _track(payload)
            found[track.number] = track
    if not found:
        raise MkvError("The MKV Tracks element lists no track.")
    if len(found) > MAX_TRACKS:
        raise MkvError(f"The MKV stream has {len(found)} tracks; at most {MAX_TRACKS} are allowed.", 4012)
    return StreamHeader(ebml, info, tracks, scale, found)


def _payload_start(raw: bytes) -> int:
    """Where the payload of a whole element (header and payload) starts."""
    id_length = 1 + next(i for i in range(4) if raw[0] & (0x80 >> i))
    size_length = 1 + next(i for i in range(8) if raw[id_length] & (0x80 >> i))
    return id_length + size_length


def _track(payload: bytes) -> Track:
    values = dict(children(payload))
    width = height = None
    if VIDEO in values:
        video = dict(children(values[VIDEO]))
        width = read_uint(video.get(PIXEL_WIDTH, b"")) or None
        height = read_uint(video.get(PIXEL_HEIGHT, b"")) or None
    if TRACK_NUMBER not in values:
        raise MkvError("An MKV track has no TrackNumber.")
    return Track(
        number=read_uint(values[TRACK_NUMBER]),
        codec_id=values.get(CODEC_ID, b"").decode("ascii", "replace"),
        codec_private=values.get(CODEC_PRIVATE, b""),
        width=width,
        height=height,
    )


def block_header(payload: bytes) -> tuple[int, int, int]:
    """(track number, relative timecode, flags) of a SimpleBlock or Block."""
    if not payload:
        raise MkvError("An MKV block is empty.")
    length = next((i + 1 for i in range(8) if payload[0] & (0x80 >> i)), 0)
    if length == 0 or len(payload) < length + 3:
        raise MkvError("An MKV block header is malformed.")
    track = int.from_bytes(payload[:length], "big") & ((1 << (7 * length)) - 1)
    (timecode,) = struct.unpack(">h", payload[length : length + 2])
    return track, timecode, payload[length + 2]


class FragmentReader:
    """Reads a producer's MKV stream as it arrives: ``events`` yields a BufferingStarted as each
    cluster begins and a Fragment when it is complete; malformed input raises MkvError (or
    TruncatedError where the stream stops inside an element)."""

    def __init__(self, read: Callable[[int], bytes], max_cluster_bytes: int) -> None:
        self._elements = ElementReader(read)
        self._max_cluster_bytes = max_cluster_bytes
        self._ebml: bytes | None = None
        self._info: bytes | None = None
        self.header: StreamHeader | None = None

    def events(self) -> Iterator[BufferingStarted | Fragment]:
        while (header := self._elements.next_header()) is not None:
            element_id = header.element_id
            if element_id == EBML:
                self._ebml = self._whole(header)
                self._check_doc_type(self._ebml)
                self._info = self.header = None  # a new segment brings its own Info and Tracks
            elif self._ebml is None:
                raise MkvError("The stream does not start with an EBML header: it is not MKV.")
            elif element_id == SEGMENT:
                continue  # its children follow; its end is the end of the stream
            elif element_id == INFO:
                self._info = self._whole(header)
            elif element_id == TRACKS:
                if self._info is None:
                    raise MkvError("The MKV Tracks element comes before the segment Info.")
                self.header = _header(self._ebml, self._info, self._whole(header))
            elif element_id == CLUSTER:
                if self.header is None:
                    raise MkvError("An MKV cluster arrived before the segment's Info and Tracks.")
                yield from self._cluster(header, self.header)
            elif element_id in SKIPPED_AT_SEGMENT_LEVEL and header.known:
                self._elements.payload(header)
            else:
                raise MkvError(f"Unexpected MKV element {element_id:#x} at the segment level.")

    def _whole(self, header: Header) -> bytes:
        return header.raw + self._elements.payload(header)

    @staticmethod
    def _check_doc_type(ebml: bytes) -> None:
        values = dict(children(ebml[_payload_start(ebml) :]))
        doc_type = values.get(DOC_TYPE, b"matroska").decode("ascii", "replace")
        if doc_type not in DOC_TYPES:
            raise MkvError(f"The EBML document type is {doc_type!r}, not matroska.")

    def _cluster(self, cluster: Header, header: StreamHeader) -> Iterator[BufferingStarted | Fragment]:
        if cluster.size is not None and cluster.size > self._max_cluster_bytes:
            raise MkvError(f"The fragment is larger than {self._max_cluster_bytes} bytes.", 4001)
        end = None if cluster.size is None else self._elements.position + cluster.size
        parts: list[bytes] = []
        total = 0
        timecode: int | None = None
        offsets: list[int] = []
        tracks: set[int] = set()
        key_first = False
        while end is None or self._elements.position < end:
            child = self._elements.next_header()
            if child is None:
                if end is not None:
                    raise MkvError("The stream ended inside a cluster.", 4000)
                break
            if end is None and (child.element_id in SEGMENT_LEVEL or child.element_id == EBML):
                self._elements.push_back(child)
                break
            total += len(child.raw) + (child.size or 0)
            if total > self._max_cluster_bytes:
                raise MkvError(f"The fragment is larger than {self._max_cluster_bytes} bytes.", 4001)
            payload = self._elements.payload(child)
            parts.append(child.raw + payload)
            if child.element_id == TIMECODE:
                timecode = read_uint(payload)
                yield BufferingStarted(timecode)
            elif child.element_id in (SIMPLE_BLOCK, BLOCK_GROUP):
                block = (
                    payload if child.element_id == SIMPLE_BLOCK else dict(children(payload)).get(BLOCK, b"")
                )
                track, offset, flags = block_header(block)
                if track not in header.tracks:
                    raise MkvError(f"A frame of track {track} is not in the MKV header's tracks.", 4010)
                if not offsets:
                    key_first = child.element_id == BLOCK_GROUP or bool(flags & 0x80)
                offsets.append(offset)
                tracks.add(track)
        if end is not None and self._elements.position != end:
            raise MkvError("An element overruns its MKV cluster.")
        if timecode is None:
            raise MkvError("An MKV cluster has no Timecode.")
        if tracks != set(header.tracks):
            raise MkvError("The fragment has no frame for a track of the MKV header.", 4011)
        yield Fragment(
            header=header,
            timecode=timecode,
            cluster=element(CLUSTER, b"".join(parts)),
            frames=len(offsets),
            key_frame_first=key_first,
            tracks_seen=frozenset(tracks),
            block_offsets=offsets,
        )


@dataclass(frozen=True)
class Frame:
    """One block of a fragment: a frame of a track, with its presentation time."""

    track: int
    presentation_ms: float  # on the stream's clock (cluster timecode plus the block's)
    key_frame: bool
    data: bytes


def fragment_file_frames(data: bytes) -> tuple[StreamHeader, list[Frame]]:
    """The header and frames (in stored order) of a fragment file: a stream header and one cluster."""
    reader = FragmentReader(io.BytesIO(data).read, len(data))
    fragment = next((event for event in reader.events() if isinstance(event, Fragment)), None)
    if fragment is None:
        raise MkvError("The fragment file holds no cluster.")
    header = fragment.header
    frames = []
    for element_id, payload in children(fragment.cluster[_payload_start(fragment.cluster) :]):
        if element_id == SIMPLE_BLOCK:
            block, key_frame = payload, None
        elif element_id == BLOCK_GROUP:
            group = dict(children(payload))
            block, key_frame = group.get(BLOCK, b""), REFERENCE_BLOCK not in group
        else:
            continue
        track, offset, flags = block_header(block)
        if flags & LACING:
            raise MkvError("Laced MKV blocks are not supported.")
        length = next(i + 1 for i in range(8) if block[0] & (0x80 >> i))
        frames.append(
            Frame(
                track,
                header.to_ms(fragment.timecode + offset),
                bool(flags & 0x80) if key_frame is None else key_frame,
                block[length + 3 :],
            )
        )
    return header, frames


def tags(values: dict[str, str]) -> bytes:
    """A Tags element of one Tag holding ``values`` as SimpleTags (Kinesis Video Streams' metadata)."""
    simple = b"".join(
        element(SIMPLE_TAG, string_element(TAG_NAME, name) + string_element(TAG_STRING, value))
        for name, value in values.items()
    )
    return element(TAGS, element(TAG, element(TARGETS, b"") + simple))


def stream_header(
    codec_id: str, codec_private: bytes, width: int, height: int, name: str = "nimbus"
) -> tuple[bytes, bytes, bytes]:
    """(EBML header, Info, Tracks) for one video track, with 1 ms timecodes: what a producer sends."""
    ebml = element(
        EBML,
        uint_element(0x4286, 1)  # EBMLVersion
        + uint_element(0x42F7, 1)  # EBMLReadVersion
        + uint_element(0x42F2, 4)  # EBMLMaxIDLength
        + uint_element(0x42F3, 8)  # EBMLMaxSizeLength
        + string_element(DOC_TYPE, "matroska")
        + uint_element(0x4287, 2)  # DocTypeVersion
        + uint_element(0x4285, 2),  # DocTypeReadVersion
    )
    info = element(
        INFO,
        uint_element(TIMECODE_SCALE, DEFAULT_TIMECODE_SCALE_NS)
        + string_element(0x4D80, name)  # MuxingApp
        + string_element(0x5741, name),  # WritingApp
    )
    video = element(VIDEO, uint_element(PIXEL_WIDTH, width) + uint_element(PIXEL_HEIGHT, height))
    entry = element(
        TRACK_ENTRY,
        uint_element(TRACK_NUMBER, 1)
        + uint_element(0x73C5, 1)  # TrackUID
        + uint_element(TRACK_TYPE, 1)  # video
        + string_element(CODEC_ID, codec_id)
        + element(CODEC_PRIVATE, codec_private)
        + video,
    )
    return ebml, info, element(TRACKS, entry)


def simple_block(track: int, relative_timecode: int, key_frame: bool, data: bytes) -> bytes:
    flags = 0x80 if key_frame else 0x00
    return element(SIMPLE_BLOCK, bytes([0x80 | track]) + struct.pack(">hB", relative_timecode, flags) + data)


def cluster(timecode: int, blocks: list[bytes]) -> bytes:
    return element(CLUSTER, uint_element(TIMECODE, timecode) + b"".join(blocks))
