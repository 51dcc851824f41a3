"""IAM records: the roles of each account. Declared on the shared ``Base`` so one metadata holds
every table."""

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
