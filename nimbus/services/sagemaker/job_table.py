"""Jobs whose status moves InProgress -> Completed / Failed, or InProgress -> Stopping -> Stopped
(transform, processing and tuning jobs): finding a job's row and moving it along, in one table each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from nimbus.services.leases import lease_node
from nimbus.services.sagemaker.errors import resource_in_use
from nimbus.services.sagemaker.job_records import INTERRUPTED
from nimbus.storage import Storage

JobKey = tuple[str, str, str]  # account, region, job name
# status -> the statuses a job may move to from it
NEXT = {"InProgress": {"Completed", "Failed", "Stopping"}, "Stopping": {"Stopped"}}
FINAL = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class JobTable:
    """A table of such jobs keyed by (account_id, region, name), with ``status``, ``last_modified``
    and the column that records when a job ended."""

    table: Table
    resource: str  # the ARN's resource type: "transform-job"
    end_column: str

    def arn(self, key: JobKey) -> str:
        account_id, region, name = key
        return f"arn:aws:sagemaker:{region}:{account_id}:{self.resource}/{name.lower()}"

    def where(self, key: JobKey) -> tuple[Any, ...]:
        columns = self.table.c
        return columns.account_id == key[0], columns.region == key[1], columns.name == key[2]

    def insert(
        self, storage: Storage, key: JobKey, caller_arn: str, request: dict[str, Any], **columns: Any
    ) -> None:
        """Stores a new InProgress job with ``columns``; ResourceInUse when the name is taken."""
        now = datetime.now(UTC)
        row = {
            "account_id": key[0],
            "region": key[1],
            "name": key[2],
            "caller_arn": caller_arn,
            "request": request,
            "status": "InProgress",
            "failure_reason": None,
            "created_at": now,
            "last_modified": now,
            self.end_column: None,
            **columns,
        }
        try:
            with storage.database.engine.begin() as connection:
                connection.execute(insert(self.table), row)
        except IntegrityError:
            raise resource_in_use(
                "Job names must be unique within an AWS account and region, and a job with this name "
                f"already exists ({self.arn(key)})"
            ) from None

    def find(self, storage: Storage, key: JobKey) -> Row[Any] | None:
        with storage.database.engine.connect() as connection:
            return connection.execute(select(self.table).where(*self.where(key))).first()

    def move(self, storage: Storage, key: JobKey, status: str, **columns: Any) -> bool:
        """Moves the job to ``status`` (ending it at a final one) if its status allows; False otherwise
        (a job being stopped ends Stopped, whatever its run did). One conditional UPDATE (compare and
        set on the statuses that may move there): of writers racing on one job, in threads or on
        several nodes, exactly one moves it, on PostgreSQL (the row lock makes the others re-read the
        status it wrote) and SQLite (one writer at a time) alike."""
        now = datetime.now(UTC)
        ending = {self.end_column: now} if status in FINAL else {}
        sources = [current for current, targets in NEXT.items() if status in targets]
        values = {"status": status, "last_modified": now, **ending, **columns}
        with storage.database.engine.begin() as connection:
            moved = connection.execute(
                update(self.table).where(*self.where(key), self.table.c.status.in_(sources)).values(**values)
            )
        return moved.rowcount == 1

    @property
    def lease_kind(self) -> str:
        """The name of these jobs' leases: ``sagemaker/transform-job/<account>/<region>/<name>``."""
        return f"sagemaker/{self.resource}"

    def fail_interrupted(self, storage: Storage) -> None:
        """Jobs whose node stopped while they ran cannot finish: they fail, saying why; those being
        stopped are Stopped. Only jobs whose lease expired: a live node's jobs are its own."""
        columns = self.table.c
        with storage.database.engine.connect() as connection:
            running = connection.execute(
                select(columns.account_id, columns.region, columns.name, columns.created_at).where(
                    columns.status.in_(tuple(NEXT))
                )
            ).all()
        jobs: list[tuple[JobKey, datetime]] = [
            ((account_id, region, name), created) for account_id, region, name, created in running
        ]
        for key in lease_node(storage).orphans(self.lease_kind, jobs):  # move refuses one of the two
            self.move(storage, key, "Stopped")
            self.move(storage, key, "Failed", failure_reason=INTERRUPTED)
