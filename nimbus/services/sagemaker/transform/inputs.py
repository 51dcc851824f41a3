"""A job's input objects, read in place from the object files: every object under an S3 prefix, or
the objects a manifest names. Each has the name its ``.out`` object gets under S3OutputPath."""

from __future__ import annotations

import gzip
from typing import Any

from nimbus.services.sagemaker.s3_locations import ObjectFile, channel_objects, manifest_objects
from nimbus.storage import Storage

# an input's file, its location (bucket/key, as the job's logs name it) and its key relative to the
# prefix: its output is ``<S3OutputPath>/<relative>.out``
InputObject = ObjectFile


def input_objects(storage: Storage, source: dict[str, Any]) -> list[InputObject]:
    """JobFailure (with AWS's reason) when there is nothing to transform."""
    uri = source["S3Uri"]
    if source["S3DataType"] == "ManifestFile":
        return manifest_objects(storage, uri)
    return sorted(channel_objects(storage, uri), key=lambda item: item.relative)


def read_input(item: InputObject, compression: str) -> bytes:
    """The object's bytes, gunzipped for CompressionType Gzip; ValueError when they are not gzip."""
    data = item.path.read_bytes()
    if compression != "Gzip":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as error:
        raise ValueError(f"The object is not gzip-compressed: {error}") from None
