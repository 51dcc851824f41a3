"""The EBML reader and Matroska fragment reader on streams built byte by byte: sizes of every width,
clusters of unknown size ended by the next cluster or by the end of the stream, and the malformed
input PutMedia must answer with an error."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from nimbus.engines.media.ebml import (
    UNKNOWN_SIZE_BYTES,
    EbmlError,
    ElementReader,
    TruncatedError,
    element,
    encode_id,
    encode_size,
    read_vint,
    uint_element,
)
from nimbus.engines.media.h264 import avc_configuration, nal_units, to_avcc
from nimbus.engines.media.matroska import (
    CLUSTER,
    SEGMENT,
    TIMECODE,
    BufferingStarted,
    Fragment,
    FragmentReader,
    MkvError,
    cluster,
    simple_block,
    stream_header,
)

SPS = bytes.fromhex("6764000cacd94141fa10")
PPS = bytes.fromhex("68ebe3cb22c0")
LIMIT = 50 * 1024 * 1024


@pytest.mark.parametrize("size", [0, 1, 126, 127, 16382, 16383, 2**21, 2**35])
def test_sizes_round_trip(size: int) -> None:
    encoded = encode_size(size)
    assert read_vint(encoded, 0) == (size, len(encoded))
    assert encoded != UNKNOWN_SIZE_BYTES[: len(encoded)]  # all-ones values are reserved for "unknown"


def test_reader_reads_headers_payloads_and_unknown_sizes() -> None:
    stream = element(0x1A45DFA3, b"abc") + encode_id(CLUSTER) + UNKNOWN_SIZE_BYTES + uint_element(TIMECODE, 5)
    reader = ElementReader(io.BytesIO(stream).read)
    first = reader.next_header()
    assert first is not None and (first.element_id, first.size) == (0x1A45DFA3, 3)
    assert reader.payload(first) == b"abc"
    second = reader.next_header()
    assert second is not None and second.element_id == CLUSTER and second.size is None
    third = reader.next_header()
    assert third is not None and reader.payload(third) == b"\x05"
    assert reader.next_header() is None


def test_reader_reports_a_stream_cut_inside_an_element() -> None:
    reader = ElementReader(io.BytesIO(element(0xA3, b"x" * 100)[:50]).read)
    header = reader.next_header()
    assert header is not None
    with pytest.raises(TruncatedError):
        reader.payload(header)


def producer_stream(clusters: list[bytes]) -> bytes:
    avcc = avc_configuration(b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x00\x01" + PPS)
    ebml, info, tracks = stream_header("V_MPEG4/ISO/AVC", avcc, 64, 48)
    return ebml + encode_id(SEGMENT) + UNKNOWN_SIZE_BYTES + info + tracks + b"".join(clusters)


def live_cluster(timecode: int, blocks: list[bytes]) -> bytes:
    """A live producer's cluster: unknown size, ended by what follows it."""
    return encode_id(CLUSTER) + UNKNOWN_SIZE_BYTES + uint_element(TIMECODE, timecode) + b"".join(blocks)


def blocks(count: int, step_ms: int) -> list[bytes]:
    return [simple_block(1, index * step_ms, index == 0, b"\x00\x00\x00\x01\x65") for index in range(count)]


@pytest.mark.parametrize("make", [cluster, live_cluster])
def test_fragments_from_known_and_unknown_size_clusters(make: Callable[[int, list[bytes]], bytes]) -> None:
    data = producer_stream([make(0, blocks(5, 200)), make(1000, blocks(5, 200))])
    events = list(FragmentReader(io.BytesIO(data).read, LIMIT).events())
    assert [type(event) for event in events] == [BufferingStarted, Fragment, BufferingStarted, Fragment]
    fragment = events[1]
    assert isinstance(fragment, Fragment)
    assert (fragment.timecode, fragment.frames, fragment.key_frame_first, fragment.duration_ms) == (
        0,
        5,
        True,
        1000,
    )
    assert fragment.header.tracks[1].codec_id == "V_MPEG4/ISO/AVC"
    assert fragment.cluster.startswith(encode_id(CLUSTER))  # stored with a known size, whatever came in


@pytest.mark.parametrize(
    ("data", "error_id"),
    [
        (b"RIFF....WAVEfmt " * 4, 4006),  # not EBML at all
        (element(0x1A45DFA3, element(0x4282, b"webmx")), 4006),  # an EBML document that is not Matroska
    ],
)
def test_malformed_streams(data: bytes, error_id: int) -> None:
    with pytest.raises(MkvError) as caught:
        list(FragmentReader(io.BytesIO(data).read, LIMIT).events())
    assert caught.value.error_id == error_id


def test_frames_of_an_unknown_track_and_oversized_fragments_are_refused() -> None:
    stray = [simple_block(2, 0, True, b"\x00")]
    with pytest.raises(MkvError) as caught:
        list(FragmentReader(io.BytesIO(producer_stream([cluster(0, stray)])).read, LIMIT).events())
    assert caught.value.error_id == 4010
    with pytest.raises(MkvError) as caught:
        list(FragmentReader(io.BytesIO(producer_stream([cluster(0, blocks(5, 10))])).read, 32).events())
    assert caught.value.error_id == 4001


def test_a_known_size_cluster_cut_short_is_an_error() -> None:
    data = producer_stream([cluster(0, blocks(5, 200))])
    with pytest.raises((MkvError, TruncatedError, EbmlError)):
        list(FragmentReader(io.BytesIO(data[:-10]).read, LIMIT).events())


def test_annex_b_to_avcc() -> None:
    annex_b = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS
    assert nal_units(annex_b) == [SPS, PPS]
    assert to_avcc(annex_b) == len(SPS).to_bytes(4, "big") + SPS + len(PPS).to_bytes(4, "big") + PPS
    record = avc_configuration(annex_b)
    assert record[:4] == bytes([1, SPS[1], SPS[2], SPS[3]]) and SPS in record and PPS in record
    assert avc_configuration(record) == record
