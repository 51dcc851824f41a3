"""A job's input objects, read in place from the object files: every object under an S3 prefix, or
the objects a manifest names. Each has the name its ``.out`` object gets under S3OutputPath."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nimbus.services.sagemaker.s3_locations import channel_files, manifest_files, split_s3_uri
from nimbus.storage import Storage


@dataclass(frozen=True)
class InputObject:
    path: Path  # the object's file
    relative: str  # its key relative to the prefix: the output is ``<S3OutputPath>/<relative>.out``
    location: str  # bucket/key, as the job's logs name it


def input_objects(storage: Storage, source: dict[str, Any]) -> list[InputObject]:
    """JobFailure (with AWS's reason) when there is nothing to transform."""
    uri = source["S3Uri"]
    if source["S3DataType"] == "ManifestFile":
        return _manifest_objects(storage, uri)
    bucket, _ = split_s3_uri(uri)
    bucket_dir = storage.objects.root / bucket
    return [
        InputObject(path, relative, f"{bucket}/{path.relative_to(bucket_dir).as_posix()}")
        for path, relative in sorted(channel_files(storage, uri).items(), key=lambda item: item[1])
    ]


def _manifest_objects(storage: Storage, uri: str) -> list[InputObject]:
    root = storage.objects.root
    return [
        InputObject(path, relative, path.relative_to(root).as_posix())
        for path, relative in manifest_files(storage, uri).items()
    ]


def read_input(item: InputObject, compression: str) -> bytes:
    """The object's bytes, gunzipped for CompressionType Gzip; ValueError when they are not gzip."""
    data = item.path.read_bytes()
    if compression != "Gzip":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as error:
        raise ValueError(f"The object is not gzip-compressed: {error}") from None
