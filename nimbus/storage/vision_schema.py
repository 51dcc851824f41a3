"""Rekognition's face collections: collections, the faces indexed into them and the users that group
faces. Declared on the shared ``Base`` so one metadata (and one Alembic history) holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, ForeignKeyConstraint, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class CollectionRecord(Base):
    """A collection, keyed by a surrogate id so a collection deleted and created again under the same
    name never shares faces (or cached vectors) with its predecessor."""

    __tablename__ = "rekognition_collections"
    __table_args__ = (
        Index("ux_rekognition_collections_name", "account_id", "region", "collection_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    collection_id: Mapped[str] = mapped_column(String(255))
    face_model_version: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    tags: Mapped[dict[str, Any]] = mapped_column(JSON)


class UserRecord(Base):
    __tablename__ = "rekognition_users"

    collection: Mapped[int] = mapped_column(
        Integer, ForeignKey("rekognition_collections.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    client_request_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class FaceRecord(Base):
    """One indexed face: where it was in its image, and its 128-d descriptor (float32 bytes)."""

    __tablename__ = "rekognition_faces"
    __table_args__ = (
        Index("ix_rekognition_faces_collection", "collection", "face_id"),
        Index("ix_rekognition_faces_user", "collection", "user_id"),
        # a face belongs to at most one user, and only to a user of its own collection
        ForeignKeyConstraint(
            ["collection", "user_id"], ["rekognition_users.collection", "rekognition_users.user_id"]
        ),
    )

    face_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    collection: Mapped[int] = mapped_column(
        Integer, ForeignKey("rekognition_collections.id", ondelete="CASCADE")
    )
    image_id: Mapped[str] = mapped_column(String(36))
    external_image_id: Mapped[str | None] = mapped_column(String(255))
    box_left: Mapped[float] = mapped_column(Float)
    box_top: Mapped[float] = mapped_column(Float)
    box_width: Mapped[float] = mapped_column(Float)
    box_height: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    index_faces_model_version: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(128))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
