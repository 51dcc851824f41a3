"""Ground Truth's rows: workteams and who is in them, jobs (one JobTable), their data objects and the
workers' answers; and the default private workforce every account has."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, select

from nimbus.services.sagemaker.job_table import JobKey, JobTable
from nimbus.storage import Storage
from nimbus.storage.iam_schema import IamGroupMemberRecord, IamGroupRecord, IamUserRecord
from nimbus.storage.labeling_schema import (
    LabelingAnswerRecord,
    LabelingJobRecord,
    LabelingObjectRecord,
    WorkteamRecord,
)

WORKTEAMS = WorkteamRecord.__table__
LABELING_JOBS = JobTable(LabelingJobRecord.__table__, "labeling-job", "labeling_end")
OBJECTS = LabelingObjectRecord.__table__
ANSWERS = LabelingAnswerRecord.__table__
WORKFORCE = "default"  # every account's one private workforce
CLIENT_ID = "nimbus-console"  # the "app client" its workers sign in with: Nimbus's web console


def workforce_arn(account_id: str, region: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:workforce/{WORKFORCE}"


def user_pool(region: str) -> str:
    """The default workforce's "user pool": the account's IAM users."""
    return f"{region}_nimbusiam"


def workteam_arn(account_id: str, region: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:workteam/private-crowd/{name}"


def workteam_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def find_workteam(storage: Storage, account_id: str, region: str, name: str) -> Any:
    columns = WORKTEAMS.c
    query = select(WORKTEAMS).where(
        columns.account_id == account_id, columns.region == region, columns.name == name
    )
    with storage.database.engine.connect() as connection:
        return connection.execute(query).first()


def member_groups(workteam: Any) -> list[str]:
    """The IAM groups a workteam's MemberDefinitions name (CognitoMemberDefinition's UserGroup)."""
    return [
        member["CognitoMemberDefinition"]["UserGroup"] for member in workteam.request["MemberDefinitions"]
    ]


def worker_workteams(storage: Storage, account_id: str, region: str, worker_arn: str) -> list[str]:
    """The ARNs of the workteams the IAM user ``worker_arn`` is in, through its IAM groups."""
    if ":user/" not in worker_arn:
        return []
    user = worker_arn.rsplit("/", 1)[-1].lower()
    members = IamGroupMemberRecord.__table__.c
    groups = IamGroupRecord.__table__.c
    query = (
        select(groups.name)
        .join_from(
            IamGroupMemberRecord.__table__,
            IamGroupRecord.__table__,
            and_(groups.account_id == members.account_id, groups.name_key == members.group_key),
        )
        .join(
            IamUserRecord.__table__,
            and_(
                IamUserRecord.__table__.c.account_id == members.account_id,
                IamUserRecord.__table__.c.name_key == members.user_key,
            ),
        )
        .where(members.account_id == account_id, members.user_key == user)
    )
    teams = select(WORKTEAMS).where(WORKTEAMS.c.account_id == account_id, WORKTEAMS.c.region == region)
    with storage.database.engine.connect() as connection:
        names = {name.lower() for name in connection.scalars(query)}
        rows = connection.execute(teams).all()
    return [
        workteam_arn(account_id, region, row.name)
        for row in rows
        if any(group.lower() in names for group in member_groups(row))
    ]


def object_where(key: JobKey, *position: int) -> tuple[Any, ...]:
    """The job's data objects (or the one at ``position``)."""
    columns = OBJECTS.c
    where = (columns.account_id == key[0], columns.region == key[1], columns.job_name == key[2])
    return where + tuple(columns.position == number for number in position)


def pending_human(storage: Storage, key: JobKey) -> int:
    """How many objects sent to people wait for their labels still."""
    columns = OBJECTS.c
    query = select(func.count()).where(
        *object_where(key), columns.consolidated.is_(None), columns.human_batch.is_not(None)
    )
    with storage.database.engine.connect() as connection:
        return int(connection.scalar(query) or 0)


def job_objects(storage: Storage, key: JobKey) -> list[Any]:
    columns = OBJECTS.c
    query = (
        select(OBJECTS)
        .where(columns.account_id == key[0], columns.region == key[1], columns.job_name == key[2])
        .order_by(columns.position)
    )
    with storage.database.engine.connect() as connection:
        return list(connection.execute(query).all())


def submitted_answers(storage: Storage, key: JobKey) -> list[Any]:
    """Every answer submitted for the job, in the order they came."""
    columns = ANSWERS.c
    query = (
        select(ANSWERS)
        .where(
            columns.account_id == key[0],
            columns.region == key[1],
            columns.job_name == key[2],
            columns.submitted_at.is_not(None),
        )
        .order_by(columns.submitted_at)
    )
    with storage.database.engine.connect() as connection:
        return list(connection.execute(query).all())


def label_counters(storage: Storage, key: JobKey) -> dict[str, int]:
    """The job's LabelCounters: its data objects, labelled by people or by automated labelling, or
    not yet."""
    columns = OBJECTS.c
    machine = func.coalesce(func.sum(case((columns.machine_labeled.is_(True), 1), else_=0)), 0)
    query = select(func.count(), func.count(columns.consolidated), machine).where(
        columns.account_id == key[0], columns.region == key[1], columns.job_name == key[2]
    )
    with storage.database.engine.connect() as connection:
        total, labeled, machine_labeled = connection.execute(query).one()
    return {
        "TotalLabeled": labeled,
        "HumanLabeled": labeled - machine_labeled,
        "MachineLabeled": machine_labeled,
        "FailedNonRetryableError": 0,
        "Unlabeled": total - labeled,
    }
