"""Rekognition face collections, their users and indexed faces (descriptors as float32 blobs).

Revision ID: 0002_rekognition_collections
Revises: 0001_s3_objects
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_rekognition_collections"
down_revision = "0001_s3_objects"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def collection_key() -> sa.ForeignKey:
    """A new ForeignKey each time (one object cannot belong to two columns)."""
    return sa.ForeignKey("rekognition_collections.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "rekognition_collections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("collection_id", sa.String(255), nullable=False),
        sa.Column("face_model_version", sa.String(16), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
    )
    op.create_index(
        "ux_rekognition_collections_name",
        "rekognition_collections",
        ["account_id", "region", "collection_id"],
        unique=True,
    )
    op.create_table(
        "rekognition_users",
        sa.Column("collection", sa.Integer, collection_key(), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("client_request_token", sa.String(64)),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "rekognition_faces",
        sa.Column("face_id", sa.String(36), primary_key=True),
        sa.Column("collection", sa.Integer, collection_key(), nullable=False),
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("external_image_id", sa.String(255)),
        sa.Column("box_left", sa.Float, nullable=False),
        sa.Column("box_top", sa.Float, nullable=False),
        sa.Column("box_width", sa.Float, nullable=False),
        sa.Column("box_height", sa.Float, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("index_faces_model_version", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(128)),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["collection", "user_id"], ["rekognition_users.collection", "rekognition_users.user_id"]
        ),
    )
    op.create_index("ix_rekognition_faces_collection", "rekognition_faces", ["collection", "face_id"])
    op.create_index("ix_rekognition_faces_user", "rekognition_faces", ["collection", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_rekognition_faces_user", "rekognition_faces")
    op.drop_index("ix_rekognition_faces_collection", "rekognition_faces")
    op.drop_table("rekognition_faces")
    op.drop_table("rekognition_users")
    op.drop_index("ux_rekognition_collections_name", "rekognition_collections")
    op.drop_table("rekognition_collections")
