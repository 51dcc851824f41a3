"""S3 multipart checksums as AWS documents them: each object's checksum type (COMPOSITE or
FULL_OBJECT), its parts' checksums (GetObject with partNumber, GetObjectAttributes), and the upload
that completed it (a retried CompleteMultipartUpload answers the same).

Revision ID: 0014_s3_checksums
Revises: 0013_sagemaker_tuning_processing
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_s3_checksums"
down_revision = "0013_sagemaker_tuning_processing"
branch_labels = None
depends_on = None

TABLES = ("s3_objects", "s3_object_versions")


# objects stored before: a multipart object's composite checksum ends in "-N" (base64 has no "-")
BACKFILL = """
UPDATE {table} SET checksum_type =
    CASE WHEN CAST(checksums AS TEXT) LIKE '%-%' THEN 'COMPOSITE' ELSE 'FULL_OBJECT' END
WHERE CAST(checksums AS TEXT) NOT IN ('{{}}', 'null')
"""


def upgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name) as table:
            table.add_column(sa.Column("checksum_type", sa.String(16)))
            table.add_column(sa.Column("part_checksums", sa.JSON))
            table.add_column(sa.Column("upload_id", sa.String(64)))
        op.execute(BACKFILL.format(table=name))


def downgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name) as table:
            for column in ("upload_id", "part_checksums", "checksum_type"):
                table.drop_column(column)
