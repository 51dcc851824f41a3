"""ECR: repositories, the images (manifests) pushed to them, their tags, the blobs each repository
may serve, and blob uploads under way. Blob and manifest bytes are content-addressed files
(image_blobs.py); these rows say who sees which."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base

DIGEST = String(80)  # sha256:<64 hex>


class EcrRepositoryRecord(Base):
    __tablename__ = "ecr_repositories"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    created_at: Mapped[datetime]
    tag_mutability: Mapped[str] = mapped_column(String(16))  # MUTABLE | IMMUTABLE
    scan_on_push: Mapped[bool] = mapped_column(Boolean)
    encryption: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[list[Any]] = mapped_column(JSON)
    policy_text: Mapped[str | None] = mapped_column(Text)
    lifecycle_policy_text: Mapped[str | None] = mapped_column(Text)
    lifecycle_updated_at: Mapped[datetime | None]


class EcrImageRecord(Base):
    """A manifest pushed to a repository (an image, or an image index of several)."""

    __tablename__ = "ecr_images"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    repository: Mapped[str] = mapped_column(String(256), primary_key=True)
    digest: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    media_type: Mapped[str] = mapped_column(String(256))
    artifact_media_type: Mapped[str | None] = mapped_column(String(256))
    size: Mapped[int] = mapped_column(BigInteger)  # the manifest's and its layers' bytes
    pushed_at: Mapped[datetime]
    last_pulled_at: Mapped[datetime | None]


class EcrTagRecord(Base):
    __tablename__ = "ecr_tags"
    __table_args__ = (Index("ix_ecr_tags_digest", "account_id", "region", "repository", "digest"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    repository: Mapped[str] = mapped_column(String(256), primary_key=True)
    tag: Mapped[str] = mapped_column(String(128), primary_key=True)
    digest: Mapped[str] = mapped_column(DIGEST)


class EcrLayerRecord(Base):
    """A blob a repository may serve: uploaded to it, mounted into it, or named by its manifests."""

    __tablename__ = "ecr_layers"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    repository: Mapped[str] = mapped_column(String(256), primary_key=True)
    digest: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)


class EcrUploadRecord(Base):
    """A blob upload under way: its bytes grow in a file only the upload names."""

    __tablename__ = "ecr_uploads"

    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    repository: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime]
