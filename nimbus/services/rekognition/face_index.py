"""The face vectors of each collection, in memory, for searches that stay interactive at 100,000 faces.

The database is the truth; each collection's descriptors are loaded from it into one float32 matrix
at first use and kept current by the operations that change them. A change takes ``FaceIndex.lock``
across its database transaction and the matching in-memory update, and a load takes the same lock,
so a collection is never loaded half-way through a change. Snapshots are immutable (a change builds
new arrays), so a search reads its snapshot without any lock while writers go on.

There is one ``FaceIndex`` per database engine, shared by every request of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import numpy as np
from sqlalchemy import Engine, select

from nimbus.services.rekognition.collection_records import COLLECTIONS, FACE_DESCRIPTORS, FACES
from nimbus.storage.database import Database

DESCRIPTOR_SIZE = 128


def as_vector(embedding: bytes) -> np.ndarray:
    return np.frombuffer(embedding, dtype=np.float32)


@dataclass(frozen=True)
class IndexedFaces:
    """One collection's faces: ids, owning users (None when unassociated) and descriptors, row-aligned,
    and the face engine's descriptor network they come from."""

    descriptor: str
    face_ids: np.ndarray  # object array of str
    user_ids: np.ndarray  # object array of str or None
    vectors: np.ndarray  # n x 128 float32
    squared_norms: np.ndarray  # n float32, kept for fast distances

    @classmethod
    def of(
        cls, descriptor: str, face_ids: Sequence[str], user_ids: Sequence[str | None], vectors: np.ndarray
    ) -> IndexedFaces:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, DESCRIPTOR_SIZE)
        return cls(
            descriptor,
            np.array(face_ids, dtype=object).reshape(-1),
            np.array(user_ids, dtype=object).reshape(-1),
            vectors,
            np.einsum("ij,ij->i", vectors, vectors),
        )

    def distances(self, queries: np.ndarray) -> np.ndarray:
        """Each face's Euclidean distance to the nearest of the query descriptors (k x 128)."""
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, DESCRIPTOR_SIZE)
        squared = self.squared_norms[None, :] - 2 * (queries @ self.vectors.T)
        squared += np.einsum("ij,ij->i", queries, queries)[:, None]
        return np.sqrt(np.clip(squared.min(axis=0), 0.0, None))

    def nearest(self, distances: np.ndarray, count: int, candidates: np.ndarray | None = None) -> np.ndarray:
        """Row numbers of the ``count`` smallest distances among ``candidates`` (a mask), nearest first."""
        rows = np.arange(len(distances)) if candidates is None else np.flatnonzero(candidates)
        if len(rows) > count:
            rows = rows[np.argpartition(distances[rows], count - 1)[:count]]
        return rows[np.argsort(distances[rows], kind="stable")]

    def added(self, face_ids: Sequence[str], vectors: Sequence[np.ndarray]) -> IndexedFaces:
        new = IndexedFaces.of(
            self.descriptor, face_ids, [None] * len(face_ids), np.asarray(vectors, dtype=np.float32)
        )
        return IndexedFaces(
            self.descriptor,
            np.concatenate([self.face_ids, new.face_ids]),
            np.concatenate([self.user_ids, new.user_ids]),
            np.concatenate([self.vectors, new.vectors]),
            np.concatenate([self.squared_norms, new.squared_norms]),
        )

    def without(self, face_ids: Sequence[str]) -> IndexedFaces:
        keep = ~np.isin(self.face_ids, np.array(list(face_ids), dtype=object))
        return IndexedFaces(
            self.descriptor,
            self.face_ids[keep],
            self.user_ids[keep],
            self.vectors[keep],
            self.squared_norms[keep],
        )

    def with_user(self, face_ids: Sequence[str], user_id: str | None) -> IndexedFaces:
        user_ids = self.user_ids.copy()
        user_ids[np.isin(self.face_ids, np.array(list(face_ids), dtype=object))] = user_id
        return IndexedFaces(self.descriptor, self.face_ids, user_ids, self.vectors, self.squared_norms)


class FaceIndex:
    """The loaded collections of one database, keyed by the collection's surrogate id."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.RLock()
        self._collections: dict[int, IndexedFaces] = {}

    def faces(self, collection: int) -> IndexedFaces:
        loaded = self._collections.get(collection)
        if loaded is not None:
            return loaded
        with self.lock:
            if collection not in self._collections:
                self._collections[collection] = self._load(collection)
            return self._collections[collection]

    def _load(self, collection: int) -> IndexedFaces:
        query = select(FACES.c.face_id, FACES.c.user_id, FACES.c.embedding).where(
            FACES.c.collection == collection
        )
        version = select(COLLECTIONS.c.face_model_version).where(COLLECTIONS.c.id == collection)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
            descriptor = FACE_DESCRIPTORS[connection.execute(version).scalar_one()]
        vectors = np.frombuffer(b"".join(row.embedding for row in rows), dtype=np.float32)
        return IndexedFaces.of(
            descriptor, [row.face_id for row in rows], [row.user_id for row in rows], vectors
        )

    # The updates below run under ``lock``, right after the transaction they mirror commits; a
    # collection not loaded yet needs none (it will load what was committed).

    def added(self, collection: int, face_ids: Sequence[str], vectors: Sequence[np.ndarray]) -> None:
        if collection in self._collections:
            self._collections[collection] = self._collections[collection].added(face_ids, vectors)

    def removed(self, collection: int, face_ids: Sequence[str]) -> None:
        if collection in self._collections:
            self._collections[collection] = self._collections[collection].without(face_ids)

    def associated(self, collection: int, face_ids: Sequence[str], user_id: str | None) -> None:
        if collection in self._collections:
            self._collections[collection] = self._collections[collection].with_user(face_ids, user_id)

    def dropped(self, collection: int) -> None:
        self._collections.pop(collection, None)


_indexes: WeakKeyDictionary[Engine, FaceIndex] = WeakKeyDictionary()
_indexes_lock = threading.Lock()


def face_index(database: Database) -> FaceIndex:
    """The process-wide index of this database's collections."""
    with _indexes_lock:
        index = _indexes.get(database.engine)
        if index is None:
            index = _indexes[database.engine] = FaceIndex(database.engine)
        return index
