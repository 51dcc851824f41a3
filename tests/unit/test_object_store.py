"""The byte layer: atomic writes, crash recovery, keys kept aside, folders and multipart parts."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest

from nimbus.storage.database import Database
from nimbus.storage.leak_sweep import STALE_S, Swept, sweep_leaks
from nimbus.storage.objects import (
    MissingFile,
    ObjectStore,
    UnsupportedKey,
    folder_keys,
    key_segments,
)


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    database = Database.open(f"sqlite:///{tmp_path / 'meta.db'}")
    store = ObjectStore.open(tmp_path / "s3", database)
    store.create_bucket("bkt")
    return store


def put(store: ObjectStore, key: str, data: bytes, bucket: str = "bkt") -> str | None:
    """Writes ``key``; returns the blob it was kept aside as, None for a plain file."""
    with store.staged(io.BytesIO(data), []) as staged:
        return store.publish(staged, bucket, key)


def read(store: ObjectStore, key: str, blob: str | None = None) -> bytes:
    with store.open_stored("bkt", key, blob) as handle:
        return handle.read()


def blob_files(store: ObjectStore) -> list[str]:
    return (
        sorted(os.listdir(store.root / ".blobs" / "bkt")) if (store.root / ".blobs" / "bkt").exists() else []
    )


def temp_files(store: ObjectStore) -> list[str]:
    return os.listdir(store.root / ".tmp")


def test_write_is_a_plain_file_and_feeds_hashers(store: ObjectStore) -> None:
    md5 = hashlib.md5()
    data = os.urandom(3 * 1024 * 1024 + 7)
    with store.staged(io.BytesIO(data), [md5]) as staged:
        assert staged.size == len(data)
        store.publish(staged, "bkt", "dir/sub/file.bin")
    assert md5.hexdigest() == hashlib.md5(data).hexdigest()
    assert (store.root / "bkt" / "dir" / "sub" / "file.bin").read_bytes() == data
    assert temp_files(store) == []


def test_failed_write_leaves_nothing(store: ObjectStore) -> None:
    put(store, "keep", b"old")
    with pytest.raises(RuntimeError), store.staged(io.BytesIO(b"new"), []):
        raise RuntimeError("verification failed")
    assert read(store, "keep") == b"old"
    assert temp_files(store) == []


def test_reader_keeps_the_old_bytes_during_an_overwrite(store: ObjectStore) -> None:
    put(store, "k", b"old bytes")
    handle = store.open_stored("bkt", "k", None)
    put(store, "k", b"new")
    assert handle.read() == b"old bytes"
    handle.close()
    assert read(store, "k") == b"new"


def test_the_leak_sweep_removes_stale_temp_files_but_not_live_ones(store: ObjectStore) -> None:
    (store.root / ".tmp" / "crashed-write").write_bytes(b"partial")
    assert sweep_leaks(store.root, store.database) == Swept()  # as of now, it may be a live write
    assert temp_files(store) == ["crashed-write"]
    assert sweep_leaks(store.root, store.database, now=time.time() + STALE_S + 1) == Swept(1, 7)
    assert temp_files(store) == []


@pytest.mark.parametrize(
    "key",
    ["../escape", "a/../../b", "a/./b", "a//b", "/abs", "nul\0byte", "s" * 256, "a/" + "é" * 128, "a//"],
)
def test_keys_no_path_can_hold_are_kept_aside(store: ObjectStore, key: str) -> None:
    with pytest.raises(UnsupportedKey):
        key_segments(key)
    blob = put(store, key, b"x")
    assert blob is not None and blob_files(store) == [blob]
    assert read(store, key, blob) == b"x"
    assert temp_files(store) == []
    assert os.listdir(store.root / "bkt") == []
    assert not (store.root / "escape").exists()


def test_segments_of_255_bytes_are_fine(store: ObjectStore) -> None:
    put(store, "d" * 255 + "/" + "é" * 127, b"x")
    assert read(store, "d" * 255 + "/" + "é" * 127) == b"x"


def test_symlink_out_of_the_bucket_is_not_followed(store: ObjectStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    os.symlink(outside, store.root / "bkt" / "link")
    os.symlink(outside / "secret", store.root / "bkt" / "file-link")
    assert put(store, "link/planted", b"x") is not None  # kept aside, not written through the link
    with pytest.raises(UnsupportedKey):
        store.open_stored("bkt", "link/secret", None)
    with pytest.raises(MissingFile):
        store.open_stored("bkt", "file-link", None)
    assert sorted(os.listdir(outside)) == ["secret"]


def test_file_beside_folder_is_kept_aside_either_way(store: ObjectStore) -> None:
    assert put(store, "a", b"file") is None
    assert put(store, "x/y", b"nested") is None
    blobs = {key: put(store, key, data) for key, data in (("a/b", b"nested"), ("x", b"over"), ("a/", b""))}
    assert all(blobs.values()) and blob_files(store) == sorted(blobs.values())  # type: ignore[type-var]
    assert read(store, "a/b", blobs["a/b"]) == b"nested"
    assert read(store, "x", blobs["x"]) == b"over"
    assert read(store, "a") == b"file"
    assert temp_files(store) == []


def test_folder_objects_and_pruning(store: ObjectStore) -> None:
    put(store, "dir/", b"")
    put(store, "dir/deep/er/file", b"x")
    assert (store.root / "bkt" / "dir").is_dir()
    assert read(store, "dir/") == b""
    assert put(store, "other/", b"not empty") is not None  # a folder cannot hold bytes: kept aside
    store.delete("bkt", "dir/deep/er/file", keep_folders={"dir/"})
    assert (store.root / "bkt" / "dir").is_dir()
    assert not (store.root / "bkt" / "dir" / "deep").exists()
    store.delete("bkt", "dir/")
    assert os.listdir(store.root / "bkt") == []
    put(store, "dir", b"now a file")  # the emptied folders no longer block it
    assert read(store, "dir") == b"now a file"


def test_missing_objects(store: ObjectStore) -> None:
    put(store, "deep/er/file", b"x")
    for key in ("nope", "deep", "deep/er/"[:-1], "missing/"):
        with pytest.raises(MissingFile):
            store.open_stored("bkt", key, None)
    with pytest.raises(MissingFile):
        store.open_object("bkt", "deep/er/file")  # a file without a row is no object
    store.delete("bkt", "nope")  # idempotent


def test_folder_keys() -> None:
    assert folder_keys("a/b/c") == ["a/", "a/b/"]
    assert folder_keys("a/b/") == ["a/"]
    assert folder_keys("top") == []


def test_multipart_parts_join_in_order(store: ObjectStore) -> None:
    upload_id = store.create_upload()
    etags = {number: hashlib.md5(data).hexdigest() for number, data in ((1, b"hello "), (2, b"world"))}
    for number, data in ((2, b"world"), (1, b"hello "), (2, b"again")):  # part 2 again, its row unchanged
        with store.staged(io.BytesIO(data), []) as staged:
            store.publish_part(staged, upload_id, number, f'"{hashlib.md5(data).hexdigest()}"')
    with store.staged_parts(upload_id, [(1, etags[1]), (2, etags[2])]) as staged:
        assert staged.size == len(b"hello world")
        store.publish(staged, "bkt", "joined")
    assert read(store, "joined") == b"hello world"  # the bytes the rows name, not the last ones written
    with pytest.raises(MissingFile), store.staged_parts(upload_id, [(3, etags[1])]):
        pass
    assert os.listdir(store.root / ".tmp") == []  # a failed join leaves no temp file
    store.discard_upload(upload_id)
    assert os.listdir(store.root / ".uploads") == []
    with pytest.raises(MissingFile):
        store.open_part("../../etc", 1, etags[1])


def test_bucket_folders(store: ObjectStore) -> None:
    assert store.has_bucket("bkt")
    assert not store.has_bucket("..")
    assert not store.has_bucket(".tmp")
    put(store, "a/b", b"x")
    store.delete_bucket("bkt")
    assert not store.has_bucket("bkt")
