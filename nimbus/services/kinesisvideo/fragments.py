"""Fragments as files: each a standalone MKV (the producer's headers and one cluster) under
``<data>/kinesisvideo/<stream>/``, its row in the database, kept for the stream's retention period
(a stream without retention keeps them for a short live window, for GetMedia and stream processors),
and the chunks consumers read (the fragment with Kinesis Video Streams' MKV tags)."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.engine import Row

from nimbus.engines.media.matroska import Fragment, tags
from nimbus.services.arrivals import announce
from nimbus.services.kinesisvideo.records import FRAGMENTS, STREAMS
from nimbus.storage import Storage

NUMBER_PREFIX = "91343852333"  # AWS's fragment numbers are 47 digits; these rise with the row id
LIVE_WINDOW_MS = 5 * 60 * 1000


def fragment_number(row_id: int) -> str:
    return f"{NUMBER_PREFIX}{row_id:036d}"


def fragment_row_id(number: str) -> int | None:
    if len(number) != 47 or not number.isdigit() or not number.startswith(NUMBER_PREFIX):
        return None
    return int(number[len(NUMBER_PREFIX) :])


def _stream_dir(storage: Storage, stream_arn: str) -> Path:
    return storage.data_dir / "kinesisvideo" / hashlib.sha256(stream_arn.encode()).hexdigest()[:32]


def fragment_path(storage: Storage, fragment: Row[Any]) -> Path:
    return _stream_dir(storage, fragment.stream_arn) / fragment.file_name


def store_fragment(
    storage: Storage, stream_arn: str, fragment: Fragment, producer_ms: int, server_ms: int
) -> Row[Any] | None:
    """Writes the fragment's file, then commits its row; None when the stream was deleted meanwhile."""
    directory = _stream_dir(storage, stream_arn)
    directory.mkdir(parents=True, exist_ok=True)
    prefix = fragment.header.prefix()
    name = f"{server_ms}-{os.urandom(6).hex()}.mkv"
    temporary = directory / f".{name}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(prefix)
        handle.write(fragment.cluster)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.rename(directory / name)
    with storage.database.engine.begin() as connection:
        stream = connection.execute(select(STREAMS).where(STREAMS.c.arn == stream_arn)).first()
        if stream is None:
            (directory / name).unlink(missing_ok=True)
            return None
        row_id = connection.execute(
            insert(FRAGMENTS).values(
                stream_arn=stream_arn,
                producer_ms=producer_ms,
                server_ms=server_ms,
                duration_ms=fragment.duration_ms,
                size=len(prefix) + len(fragment.cluster),
                cluster_offset=len(prefix),
                file_name=name,
            )
        ).inserted_primary_key[0]
        stored = connection.execute(select(FRAGMENTS).where(FRAGMENTS.c.id == row_id)).one()
        expired = _expire(connection, stream, server_ms)
    for row in expired:
        fragment_path(storage, row).unlink(missing_ok=True)
    announce(stream_arn)
    return stored


def _expire(connection: Connection, stream: Row[Any], now_ms: int) -> list[Row[Any]]:
    """Removes the rows of fragments past the retention period; returns them (their files go next)."""
    keep_ms = stream.retention_hours * 3_600_000 or LIVE_WINDOW_MS
    old = connection.execute(
        select(FRAGMENTS).where(
            FRAGMENTS.c.stream_arn == stream.arn, FRAGMENTS.c.server_ms < now_ms - keep_ms
        )
    ).all()
    if old:
        connection.execute(delete(FRAGMENTS).where(FRAGMENTS.c.id.in_([row.id for row in old])))
    return list(old)


def retained_since_ms(stream: Row[Any]) -> int:
    """Server time (ms) before which fragments are past the stream's retention."""
    return int(time.time() * 1000) - (stream.retention_hours * 3_600_000 or LIVE_WINDOW_MS)


def remove_stream_files(storage: Storage, stream_arn: str) -> None:
    shutil.rmtree(_stream_dir(storage, stream_arn), ignore_errors=True)


def chunk(
    storage: Storage, fragment: Row[Any], extra: dict[str, str], after: dict[str, str] | None = None
) -> bytes:
    """The fragment as consumers read it: the headers, a Tags element with its number, timestamps and
    ``extra`` tags, the cluster, then the ``after`` tags (continuation token, how far behind now)."""
    content = fragment_path(storage, fragment).read_bytes()
    offset = fragment.cluster_offset
    metadata = tags(extra)
    return content[:offset] + metadata + content[offset:] + (tags(after) if after else b"")


def seconds(milliseconds: int) -> str:
    """A timestamp tag's value: seconds since the epoch, to the millisecond."""
    return f"{milliseconds / 1000:.3f}"
