"""H.264 bitstream forms: Annex B (start codes, as demuxers and RTSP give it) and AVCC (length
prefixes, with an avcC record of the SPS and PPS, as Matroska's V_MPEG4/ISO/AVC requires)."""

from __future__ import annotations

import re

START_CODE = re.compile(b"\x00\x00\x01")
SPS, PPS = 7, 8


def nal_units(annex_b: bytes) -> list[bytes]:
    """The NAL units of an Annex B stream, without their start codes (or trailing zero bytes)."""
    starts = [match.end() for match in START_CODE.finditer(annex_b)]
    units = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else len(annex_b)
        unit = annex_b[start:end].rstrip(b"\x00")
        if unit:
            units.append(unit)
    return units


def to_avcc(annex_b: bytes) -> bytes:
    """Annex B as 4-byte length-prefixed NAL units; data already in that form passes through."""
    if not annex_b.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        return annex_b
    return b"".join(len(unit).to_bytes(4, "big") + unit for unit in nal_units(annex_b))


def avc_configuration(extradata: bytes) -> bytes:
    """The avcC record (Matroska's CodecPrivate) from a demuxer's extradata: returned as is when it
    is one already, built from the SPS and PPS when the extradata is Annex B."""
    if extradata[:1] == b"\x01":
        return extradata
    units = nal_units(extradata)
    sps = [unit for unit in units if unit[0] & 0x1F == SPS]
    pps = [unit for unit in units if unit[0] & 0x1F == PPS]
    if not sps or not pps:
        raise ValueError("The H.264 stream has no SPS and PPS to describe it.")
    record = bytearray([1, sps[0][1], sps[0][2], sps[0][3], 0xFF, 0xE0 | len(sps)])
    for unit in sps:
        record += len(unit).to_bytes(2, "big") + unit
    record.append(len(pps))
    for unit in pps:
        record += len(unit).to_bytes(2, "big") + unit
    return bytes(record)
