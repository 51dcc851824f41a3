"""ECR: repositories, images, tags, repository blobs and uploads; SageMaker models remember
EnableNetworkIsolation (their containers run without a network).

Revision ID: 0019_ecr
Revises: 0018_inference_recommender
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_ecr"
down_revision = "0018_inference_recommender"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
DIGEST = sa.String(80)


def _repository_key() -> list[sa.Column]:
    return [
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("repository", sa.String(256), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "ecr_repositories",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("tag_mutability", sa.String(16), nullable=False),
        sa.Column("scan_on_push", sa.Boolean, nullable=False),
        sa.Column("encryption", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("policy_text", sa.Text),
        sa.Column("lifecycle_policy_text", sa.Text),
        sa.Column("lifecycle_updated_at", WHEN),
    )
    op.create_table(
        "ecr_images",
        *_repository_key(),
        sa.Column("digest", DIGEST, primary_key=True),
        sa.Column("media_type", sa.String(256), nullable=False),
        sa.Column("artifact_media_type", sa.String(256)),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("pushed_at", WHEN, nullable=False),
        sa.Column("last_pulled_at", WHEN),
    )
    op.create_table(
        "ecr_tags",
        *_repository_key(),
        sa.Column("tag", sa.String(128), primary_key=True),
        sa.Column("digest", DIGEST, nullable=False),
    )
    op.create_index("ix_ecr_tags_digest", "ecr_tags", ["account_id", "region", "repository", "digest"])
    op.create_table(
        "ecr_layers",
        *_repository_key(),
        sa.Column("digest", DIGEST, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ecr_uploads",
        sa.Column("upload_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("repository", sa.String(256), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    with op.batch_alter_table("sagemaker_models") as table:
        table.add_column(
            sa.Column("enable_network_isolation", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("sagemaker_models") as table:
        table.drop_column("enable_network_isolation")
    for name in ("ecr_uploads", "ecr_layers", "ecr_tags", "ecr_images", "ecr_repositories"):
        op.drop_table(name)
