"""Augmented manifest channels (S3DataType ``AugmentedManifestFile``), as AWS documents them: the
manifest is JSON lines (a labelling job's output manifest is one); from each line the channel takes the
values of its ``AttributeNames``, in that order, and streams them to the algorithm through the channel's
pipe, ``/opt/ml/input/data/<channel>_0``. An attribute whose name ends in ``-ref`` holds an S3 URI: the
record is that object's bytes, read with the job's role. AWS allows these channels in Pipe mode only.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nimbus.services.iam.role_access import RoleAccess
from nimbus.services.sagemaker.errors import validation_error
from nimbus.services.sagemaker.s3_locations import DOWNLOAD_FAILED, JobFailure, require_role, split_s3_uri
from nimbus.storage import Storage
from nimbus.storage.objects import MissingFile, StorageError

AUGMENTED = "AugmentedManifestFile"
RECORDIO_MAGIC = 0xCED7230A  # MXNet / dmlc RecordIO
_RECORDIO_LENGTH_BITS = 29  # a part's length; the 3 bits above it say which part of a record it is


def is_augmented(channel: dict[str, Any]) -> bool:
    return channel["DataSource"].get("S3DataSource", {}).get("S3DataType") == AUGMENTED


def check_augmented_channel(channel: dict[str, Any], input_mode: str) -> None:
    """ValidationException for an augmented manifest channel AWS refuses: one not in Pipe mode (the
    channel's InputMode, else the job's TrainingInputMode), or one without AttributeNames."""
    name = channel["ChannelName"]
    if input_mode != "Pipe":
        raise validation_error(
            f"Channel {name}: S3DataType AugmentedManifestFile can only be used if the channel's input "
            f"mode is Pipe (it is {input_mode}). Set the channel's InputMode to Pipe."
        )
    if not channel["DataSource"]["S3DataSource"].get("AttributeNames"):
        raise validation_error(
            f"Channel {name}: AttributeNames must name at least one attribute of the augmented manifest "
            "when S3DataType is AugmentedManifestFile."
        )


def write_pipe_stream(storage: Storage, channel: dict[str, Any], access: RoleAccess, target: Path) -> None:
    """Writes the channel's stream to ``target``: each line's attributes in AttributeNames order, each
    a record, wrapped in RecordIO when the channel's RecordWrapperType is RecordIO. The role must be
    allowed to read the manifest and every object a ``-ref`` attribute names; JobFailure otherwise,
    or when a line is no JSON object or lacks an attribute."""
    source = channel["DataSource"]["S3DataSource"]
    wrap = channel.get("RecordWrapperType") == "RecordIO"
    with target.open("wb") as stream:
        for record in _records(storage, source["S3Uri"], source["AttributeNames"], access):
            stream.write(recordio(record) if wrap else record)


def _records(storage: Storage, uri: str, names: list[str], access: RoleAccess) -> Iterator[bytes]:
    bucket, key = split_s3_uri(uri)
    require_role(access, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", DOWNLOAD_FAILED)
    for number, line in enumerate(_manifest_lines(storage, uri), start=1):
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            raise JobFailure(
                f"ClientError: Line {number} of the augmented manifest {uri} is not a JSON object."
            )
        for name in names:
            if name not in entry:
                raise JobFailure(
                    f"ClientError: Line {number} of the augmented manifest {uri} has no attribute "
                    f"{name!r}, which AttributeNames lists."
                )
            if name.endswith("-ref"):
                yield _referenced_bytes(storage, entry[name], access, f"line {number} of {uri}")
            else:
                yield _attribute_bytes(entry[name])


def _manifest_lines(storage: Storage, uri: str) -> list[bytes]:
    bucket, key = split_s3_uri(uri)
    try:
        with storage.objects.open_object(bucket, key) as manifest:
            lines = [line for line in manifest.read().splitlines() if line.strip()]
    except MissingFile:
        raise JobFailure(
            f"ClientError: Cannot read the augmented manifest file {uri}: it does not exist."
        ) from None
    except StorageError as error:
        raise JobFailure(f"ClientError: Cannot read the augmented manifest {uri}: {error}") from None
    if not lines:
        raise JobFailure(f"ClientError: The augmented manifest file {uri} has no lines.")
    return lines


def _referenced_bytes(storage: Storage, value: Any, access: RoleAccess, where: str) -> bytes:
    """The object a ``-ref`` attribute names, read as the job's role."""
    try:
        bucket, key = split_s3_uri(str(value)) if isinstance(value, str) else ("", "")
    except ValueError:
        bucket, key = "", ""
    if not key:
        raise JobFailure(f"ClientError: The -ref attribute at {where} is not an S3 object URI: {value!r}.")
    require_role(access, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", DOWNLOAD_FAILED)
    try:
        with storage.objects.open_object(bucket, key) as body:
            return body.read()
    except StorageError as error:
        raise JobFailure(f"ClientError: Cannot read {value} (named at {where}): {error}") from None


def _attribute_bytes(value: Any) -> bytes:
    """A plain attribute's record: a string's own text, any other value's compact JSON text (AWS's
    documentation shows the record, not how a non-string value is written)."""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":")).encode()


def recordio(data: bytes) -> bytes:
    """``data`` as one MXNet RecordIO record: a magic number and a length before each part, padded to
    4 bytes. As dmlc's writer does, the record is split where the magic number appears at an aligned
    offset in ``data`` (the reader puts it back), so a reader never mistakes data for a header."""
    parts: list[tuple[int, bytes]] = []
    start = 0
    for offset in range(0, len(data) - len(data) % 4, 4):
        if struct.unpack_from("<I", data, offset)[0] == RECORDIO_MAGIC:
            parts.append((1 if start == 0 else 2, data[start:offset]))
            start = offset + 4
    parts.append((3 if start else 0, data[start:]))
    out = bytearray()
    for flag, part in parts:
        if len(part) >= 1 << _RECORDIO_LENGTH_BITS:
            raise JobFailure("ClientError: A RecordIO record cannot hold 512 MiB or more.")
        out += struct.pack("<II", RECORDIO_MAGIC, flag << _RECORDIO_LENGTH_BITS | len(part))
        out += part + b"\0" * (-len(part) % 4)
    return bytes(out)
