"""The framework containers' default encoders: request bodies to numpy arrays and back, for
``application/json``, ``text/csv`` and ``application/x-npy`` (as the SageMaker SDK's NumpySerializer
writes it)."""

from __future__ import annotations

import io
import json

import numpy as np

from nimbus.engines.learn.builtin_io import UnsupportedAccept, UnsupportedContentType

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
TEXT_TYPES = (JSON, CSV)  # the containers hand these to input_fn as str, the rest as bytes


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode(body: bytes | str, content_type: str) -> np.ndarray:
    kind = media_type(content_type)
    if kind == NPY:
        raw = body.encode() if isinstance(body, str) else body
        return np.load(io.BytesIO(raw), allow_pickle=False)
    text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
    if kind == JSON:
        return np.asarray(json.loads(text))
    if kind == CSV:
        if not text.strip():
            raise ValueError("The CSV request body is empty.")
        return np.loadtxt(io.StringIO(text.strip()), delimiter=",", ndmin=2)
    raise UnsupportedContentType(f"Content type {kind or '(none)'} is not supported by this container.")


def encode(array: object, accept: str) -> bytes:
    values = np.asarray(array)
    kind = media_type(accept)
    if kind == JSON:
        return json.dumps(values.tolist()).encode()
    if kind == CSV:
        rows = values.reshape(len(values), -1) if values.ndim else values.reshape(1, 1)
        return "\n".join(",".join(repr(item) for item in row) for row in rows.tolist()).encode()
    if kind == NPY:
        buffer = io.BytesIO()
        np.save(buffer, values, allow_pickle=False)
        return buffer.getvalue()
    raise UnsupportedAccept(f"Accept type {kind or '(none)'} is not supported by this container.")
