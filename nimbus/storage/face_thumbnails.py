"""Small JPEG crops of the faces indexed in Rekognition collections, for the console to show beside
each face (AWS keeps no image of an indexed face; Nimbus keeps this much).

``<data dir>/face-thumbnails/<collection key>/<face id>.jpg``: the collection key is the SHA-256 of
the collection's ARN, so any collection id of any account and region makes a safe, short folder
name. A crop is written to a file of its own and renamed into place, so a reader sees all of it or
none.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

FOLDER = "face-thumbnails"
_FACE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class FaceThumbnails:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def under(cls, data_dir: Path) -> FaceThumbnails:
        return cls(data_dir / FOLDER)

    def put(self, collection_arn: str, face_id: str, jpeg: bytes) -> None:
        path = self._path(collection_arn, face_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{uuid.uuid4().hex}.part")
        partial.write_bytes(jpeg)
        os.replace(partial, path)

    def get(self, collection_arn: str, face_id: str) -> bytes | None:
        """The face's crop; None for a face indexed before crops were kept, or none at all."""
        if not _FACE_ID.match(face_id):
            return None
        try:
            return self._path(collection_arn, face_id).read_bytes()
        except FileNotFoundError:
            return None

    def has(self, collection_arn: str, face_id: str) -> bool:
        return bool(_FACE_ID.match(face_id)) and self._path(collection_arn, face_id).is_file()

    def delete(self, collection_arn: str, face_ids: Iterable[str]) -> None:
        for face_id in face_ids:
            self._path(collection_arn, face_id).unlink(missing_ok=True)

    def drop(self, collection_arn: str) -> None:
        shutil.rmtree(self._folder(collection_arn), ignore_errors=True)

    def _folder(self, collection_arn: str) -> Path:
        return self.root / hashlib.sha256(collection_arn.encode()).hexdigest()

    def _path(self, collection_arn: str, face_id: str) -> Path:
        if not _FACE_ID.match(face_id):
            raise ValueError(f"{face_id!r} is not a face id.")
        return self._folder(collection_arn) / f"{face_id}.jpg"
