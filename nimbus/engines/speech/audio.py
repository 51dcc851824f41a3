"""Audio decoding: raw PCM (L16 / LPCM) and RIFF WAV to 16 kHz mono int16 samples.

Content types follow Amazon Lex V2's RecognizeUtterance documentation, which is the
spec here: ``audio/l16; rate=16000; channels=1``, ``audio/x-l16; sample-rate=16000;
channel-count=1`` and ``audio/lpcm; sample-rate=8000; sample-size-bits=16;
channel-count=1; is-big-endian=false``. Lex says PCM "must be in little-endian byte
order", so L16 is read little-endian (unlike RFC 2586's network order); LPCM honours its
``is-big-endian`` parameter. WAV files (``audio/wav``, ``audio/x-wav``, ``audio/wave``,
``audio/vnd.wave``) carry their own format: integer PCM of 8, 16, 24 or 32 bits or IEEE
float of 32 or 64 bits, any channel count, any rate.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

TARGET_RATE = 16_000
MAX_RATE = 192_000
MAX_CHANNELS = 8

_WAV_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"})
_PCM_TYPES = frozenset({"audio/l16", "audio/x-l16", "audio/lpcm", "audio/pcm"})
_FORMAT_PCM = 1
_FORMAT_FLOAT = 3
_FORMAT_EXTENSIBLE = 0xFFFE


class AudioFormatError(ValueError):
    """The audio bytes or their content type cannot be decoded."""


@dataclass(frozen=True)
class PcmFormat:
    """How raw PCM bytes are laid out."""

    rate: int
    channels: int
    bits: int
    big_endian: bool
    is_float: bool = False


def decode_audio(data: bytes, content_type: str) -> np.ndarray:
    """Decode ``data`` of ``content_type`` to 16 kHz mono int16 samples."""
    media_type, params = parse_content_type(content_type)
    if media_type in _WAV_TYPES:
        fmt, payload = parse_wav(data)
    elif media_type in _PCM_TYPES:
        fmt, payload = _raw_pcm_format(media_type, params), data
    else:
        raise AudioFormatError(f"unsupported audio content type: {content_type!r}")
    samples = pcm_to_float(payload, fmt)
    return to_int16(resample(samples, fmt.rate, TARGET_RATE))


def parse_content_type(content_type: str) -> tuple[str, dict[str, str]]:
    """Split ``type/subtype; key=value; ...`` into the lower-cased type and parameters."""
    parts = [part.strip() for part in content_type.split(";")]
    params: dict[str, str] = {}
    for part in parts[1:]:
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise AudioFormatError(f"malformed content type parameter: {part!r}")
        params[key.strip().lower()] = value.strip().strip('"').lower()
    return parts[0].lower(), params


def _raw_pcm_format(media_type: str, params: dict[str, str]) -> PcmFormat:
    rate = _int_param(params, ("rate", "sample-rate"), TARGET_RATE)
    channels = _int_param(params, ("channels", "channel-count"), 1)
    bits = _int_param(params, ("sample-size-bits",), 16)
    if bits != 16:
        raise AudioFormatError(f"only 16-bit PCM is supported, not {bits}-bit")
    big_endian = media_type == "audio/lpcm" and params.get("is-big-endian", "false") == "true"
    return _checked(PcmFormat(rate=rate, channels=channels, bits=16, big_endian=big_endian))


def _int_param(params: dict[str, str], names: tuple[str, ...], default: int) -> int:
    for name in names:
        if name in params:
            try:
                return int(params[name])
            except ValueError:
                raise AudioFormatError(f"{name} must be an integer, not {params[name]!r}") from None
    return default


def _checked(fmt: PcmFormat) -> PcmFormat:
    if not 1_000 <= fmt.rate <= MAX_RATE:
        raise AudioFormatError(f"sample rate {fmt.rate} Hz is out of range")
    if not 1 <= fmt.channels <= MAX_CHANNELS:
        raise AudioFormatError(f"channel count {fmt.channels} is out of range")
    return fmt


def parse_wav(data: bytes) -> tuple[PcmFormat, bytes]:
    """Read a RIFF/WAVE file's format and sample bytes, refusing any inconsistent header."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError("not a RIFF/WAVE file")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    if riff_size + 8 > len(data):
        raise AudioFormatError(f"RIFF header claims {riff_size + 8} bytes but the file has {len(data)}")
    chunks = _wav_chunks(data[12 : riff_size + 8])
    if b"fmt " not in chunks or b"data" not in chunks:
        raise AudioFormatError("WAV file lacks a fmt or data chunk")
    fmt = _wav_format(chunks[b"fmt "])
    payload = chunks[b"data"]
    return fmt, payload


def _wav_chunks(body: bytes) -> dict[bytes, bytes]:
    chunks: dict[bytes, bytes] = {}
    offset = 0
    while offset + 8 <= len(body):
        chunk_id = body[offset : offset + 4]
        (size,) = struct.unpack_from("<I", body, offset + 4)
        start = offset + 8
        if start + size > len(body):
            raise AudioFormatError(f"WAV chunk {chunk_id!r} claims {size} bytes past the end of the file")
        chunks.setdefault(chunk_id, body[start : start + size])
        offset = start + size + (size & 1)
    return chunks


def _wav_format(chunk: bytes) -> PcmFormat:
    if len(chunk) < 16:
        raise AudioFormatError("WAV fmt chunk is too short")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", chunk)
    if tag == _FORMAT_EXTENSIBLE:
        if len(chunk) < 26:
            raise AudioFormatError("WAV extensible fmt chunk is too short")
        (tag,) = struct.unpack_from("<H", chunk, 24)
    supported = {_FORMAT_PCM: (8, 16, 24, 32), _FORMAT_FLOAT: (32, 64)}
    if bits not in supported.get(tag, ()):
        raise AudioFormatError(f"unsupported WAV encoding: format tag {tag}, {bits} bits")
    if block_align != channels * bits // 8:
        raise AudioFormatError("WAV block alignment does not match channels and sample size")
    fmt = PcmFormat(rate=rate, channels=channels, bits=bits, big_endian=False, is_float=tag == _FORMAT_FLOAT)
    return _checked(fmt)


def pcm_to_float(payload: bytes, fmt: PcmFormat) -> np.ndarray:
    """Interpret PCM bytes as mono float64 samples in [-1, 1], averaging the channels."""
    frame_bytes = fmt.channels * fmt.bits // 8
    if len(payload) % frame_bytes:
        raise AudioFormatError(
            f"{len(payload)} bytes is not a whole number of {fmt.channels}-channel {fmt.bits}-bit frames"
        )
    samples = _samples(payload, fmt)
    if not np.all(np.isfinite(samples)):
        raise AudioFormatError("audio contains non-finite samples")
    return samples.reshape(-1, fmt.channels).mean(axis=1)


def _samples(payload: bytes, fmt: PcmFormat) -> np.ndarray:
    order = ">" if fmt.big_endian else "<"
    if fmt.is_float:
        return np.frombuffer(payload, dtype=f"{order}f{fmt.bits // 8}").astype(np.float64)
    if fmt.bits == 8:
        return (np.frombuffer(payload, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if fmt.bits == 24:
        raw = np.frombuffer(payload, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        return np.where(value >= 1 << 23, value - (1 << 24), value) / float(1 << 23)
    dtype = np.dtype(f"{order}i{fmt.bits // 8}")
    return np.frombuffer(payload, dtype=dtype).astype(np.float64) / float(1 << (fmt.bits - 1))


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited resampling by zero-padding or truncating the spectrum (FFT method)."""
    if src_rate == dst_rate or samples.size == 0:
        return samples
    out_len = round(samples.size * dst_rate / src_rate)
    spectrum = np.fft.rfft(samples)
    keep = min(spectrum.size, out_len // 2 + 1)
    resized = np.zeros(out_len // 2 + 1, dtype=complex)
    resized[:keep] = spectrum[:keep]
    return np.fft.irfft(resized, n=out_len) * (out_len / samples.size)


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Scale float samples in [-1, 1] to int16, clipping overshoot."""
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)


def encode_wav(pcm: np.ndarray, rate: int = TARGET_RATE) -> bytes:
    """A mono 16-bit PCM WAV file holding ``pcm``."""
    payload = pcm.astype("<i2").tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(payload), b"WAVE",
        b"fmt ", 16, _FORMAT_PCM, 1, rate, rate * 2, 2, 16,
        b"data", len(payload),
    )  # fmt: skip
    return header + payload
