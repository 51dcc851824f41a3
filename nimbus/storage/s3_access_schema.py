"""S3 access settings of a bucket: its policy, Block Public Access, object ownership, canned ACL and
whether its tags take part in authorization (ABAC)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class BucketAccessRecord(Base):
    """One row per bucket that has any access setting; no row means S3's defaults (no policy, no
    Block Public Access configuration, BucketOwnerEnforced, private)."""

    __tablename__ = "s3_bucket_access"

    bucket: Mapped[str] = mapped_column(
        String(63), ForeignKey("s3_buckets.name", ondelete="CASCADE"), primary_key=True
    )
    policy: Mapped[str | None] = mapped_column(Text)  # the document as it was given
    block_public_acls: Mapped[bool | None]
    ignore_public_acls: Mapped[bool | None]
    block_public_policy: Mapped[bool | None]
    restrict_public_buckets: Mapped[bool | None]
    object_ownership: Mapped[str | None] = mapped_column(String(32))
    acl: Mapped[str | None] = mapped_column(String(32))  # a canned ACL ("private", "public-read"...)
    abac: Mapped[str | None] = mapped_column(String(8))  # PutBucketAbac's Status; None: never set (Disabled)
    # the policy was put with ConfirmRemoveSelfBucketAccess: its denials bind the account's root too
    removes_owner_access: Mapped[bool | None]
