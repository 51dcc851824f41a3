"""IAM records: the users, groups, roles, policies and instance profiles of each account. Declared
on the shared ``Base`` so one metadata holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class IamRoleRecord(Base):
    """A role. IAM is global (no region) and role names are unique regardless of case, so the key is
    the account and the name in lower case; ``name`` keeps the case it was created with."""

    __tablename__ = "iam_roles"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role_id: Mapped[str] = mapped_column(String(32), unique=True)
    path: Mapped[str] = mapped_column(String(512))
    assume_role_policy: Mapped[str] = mapped_column(Text)  # the document as it was given
    description: Mapped[str | None] = mapped_column(String(1000))
    max_session_duration: Mapped[int]
    permissions_boundary: Mapped[str | None] = mapped_column(String(2048))
    tags: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime]


class IamUserRecord(Base):
    """An IAM user. Its access keys live with the other keys in the credentials file."""

    __tablename__ = "iam_users"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(32), unique=True)
    path: Mapped[str] = mapped_column(String(512))
    permissions_boundary: Mapped[str | None] = mapped_column(String(2048))
    tags: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime]


class IamGroupRecord(Base):
    __tablename__ = "iam_groups"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    group_id: Mapped[str] = mapped_column(String(32), unique=True)
    path: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime]


class IamGroupMemberRecord(Base):
    __tablename__ = "iam_group_members"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_key: Mapped[str] = mapped_column(String(64), primary_key=True)


class IamManagedPolicyRecord(Base):
    """A customer managed policy; its documents are its versions. AWS managed policies
    (``arn:aws:iam::aws:policy/...``) are not stored: they come with Nimbus."""

    __tablename__ = "iam_managed_policies"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    policy_id: Mapped[str] = mapped_column(String(32), unique=True)
    path: Mapped[str] = mapped_column(String(512))
    description: Mapped[str | None] = mapped_column(String(1000))
    default_version: Mapped[str] = mapped_column(String(16))
    next_version: Mapped[int]
    tags: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IamPolicyVersionRecord(Base):
    __tablename__ = "iam_policy_versions"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    version_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class IamAttachmentRecord(Base):
    """A managed policy attached to a user, group or role (``holder_kind``)."""

    __tablename__ = "iam_attachments"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    holder_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    policy_arn: Mapped[str] = mapped_column(String(2048), primary_key=True)


class IamInlinePolicyRecord(Base):
    """A policy embedded in one user, group or role."""

    __tablename__ = "iam_inline_policies"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    holder_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    name_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    document: Mapped[str] = mapped_column(Text)


class IamInstanceProfileRecord(Base):
    """An instance profile: a name EMR clusters carry, holding at most one role."""

    __tablename__ = "iam_instance_profiles"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    profile_id: Mapped[str] = mapped_column(String(32), unique=True)
    path: Mapped[str] = mapped_column(String(512))
    role_key: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime]


class IamOidcProviderRecord(Base):
    """An OpenID Connect identity provider. Its key is its URL without ``https://`` (the ARN's
    resource name, unique in an account), with the host in lower case as DNS reads it."""

    __tablename__ = "iam_oidc_providers"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    url: Mapped[str] = mapped_column(String(255))
    client_ids: Mapped[list[Any]] = mapped_column()
    thumbprints: Mapped[list[Any]] = mapped_column()
    tags: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime]
