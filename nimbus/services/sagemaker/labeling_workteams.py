"""Ground Truth's private workforce and workteams. Every account has one private workforce,
``default``, whose workers are the account's IAM users signing in to Nimbus's web console: its
CognitoConfig names that "user pool" (``<region>_nimbusiam``) and "app client" (``nimbus-console``),
and a workteam's CognitoMemberDefinition names one of the account's IAM groups as its UserGroup."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.errors import resource_in_use, resource_not_found, validation_error
from nimbus.services.sagemaker.job_lists import offset_token, token_offset
from nimbus.services.sagemaker.labeling.records import (
    CLIENT_ID,
    LABELING_JOBS,
    WORKFORCE,
    WORKTEAMS,
    find_workteam,
    user_pool,
    workforce_arn,
    workteam_arn,
)
from nimbus.storage.iam_schema import IamGroupRecord

DEFAULT_PAGE_SIZE = 10
CONSOLE_PATH = "/_nimbus/console/labeling"


def _workforce(ctx: RequestContext) -> dict[str, Any]:
    return {
        "WorkforceName": WORKFORCE,
        "WorkforceArn": workforce_arn(ctx.caller.account_id, ctx.region),
        "SubDomain": _sub_domain(ctx),
        "CognitoConfig": {"UserPool": user_pool(ctx.region), "ClientId": CLIENT_ID},
        "SourceIpConfig": {"Cidrs": []},
        "Status": "Active",
    }


def _sub_domain(ctx: RequestContext) -> str:
    """Where the workers label: the console's labelling pages on this Nimbus."""
    return f"{ctx.host or '127.0.0.1:4566'}{CONSOLE_PATH}"


@sagemaker.operation
def describe_workforce(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The one private workforce, ``default``: its CognitoConfig names the account's IAM users
    (UserPool ``<region>_nimbusiam``, ClientId ``nimbus-console``), its SubDomain the console's
    labelling pages. No OIDC, no SourceIpConfig limits, no VPC."""
    if request["WorkforceName"] != WORKFORCE:
        raise resource_not_found(
            f"Workforce {request['WorkforceName']} does not exist: Nimbus has the private workforce "
            f"{WORKFORCE} only."
        )
    return {"Workforce": _workforce(ctx)}


@sagemaker.operation
def list_workforces(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The private workforce ``default`` only (CreateWorkforce is not served)."""
    named = request.get("NameContains", "") in WORKFORCE
    return {"Workforces": [_workforce(ctx)] if named else []}


def _check_members(ctx: RequestContext, members: list[dict[str, Any]]) -> None:
    groups = IamGroupRecord.__table__.c
    for member in members:
        cognito = member.get("CognitoMemberDefinition")
        if cognito is None:
            raise validation_error(
                "Nimbus's private workforce takes CognitoMemberDefinition members (UserGroup: an IAM "
                "group of this account), not OidcMemberDefinition."
            )
        if (cognito["UserPool"], cognito["ClientId"]) != (user_pool(ctx.region), CLIENT_ID):
            raise validation_error(
                f"CognitoMemberDefinition must name the private workforce's UserPool {user_pool(ctx.region)} "
                f"and ClientId {CLIENT_ID} (DescribeWorkforce shows them)."
            )
        query = select(groups.name).where(
            groups.account_id == ctx.caller.account_id, groups.name_key == cognito["UserGroup"].lower()
        )
        with ctx.storage.database.engine.connect() as connection:
            if connection.scalar(query) is None:
                raise validation_error(
                    f"UserGroup {cognito['UserGroup']} is not an IAM group of this account: create it "
                    "(iam create-group) and add the workers' IAM users to it."
                )


def _workteam(ctx: RequestContext, row: Any) -> dict[str, Any]:
    kept = ("MemberDefinitions", "Description", "NotificationConfiguration", "WorkerAccessConfiguration")
    return {
        **{name: row.request[name] for name in kept if name in row.request},
        "WorkteamName": row.name,
        "WorkteamArn": workteam_arn(ctx.caller.account_id, ctx.region, row.name),
        "WorkforceArn": workforce_arn(ctx.caller.account_id, ctx.region),
        "ProductListingIds": [],
        "SubDomain": _sub_domain(ctx),
        "CreateDate": row.created_at,
        "LastUpdatedDate": row.last_updated,
    }


def _missing(name: str) -> Exception:
    return resource_not_found(f"Workteam {name} does not exist.")


@sagemaker.operation
def create_workteam(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Private workteams of the ``default`` workforce: each CognitoMemberDefinition names the
    workforce's UserPool and ClientId, and as its UserGroup an IAM group of the account, whose users
    are the team's workers (they sign in to the console with their own keys). OidcMemberDefinition
    is refused; NotificationConfiguration is kept but nothing is sent; Tags are not kept."""
    if request.get("WorkforceName", WORKFORCE) != WORKFORCE:
        raise resource_not_found(f"Workforce {request['WorkforceName']} does not exist.")
    _check_members(ctx, request["MemberDefinitions"])
    now = datetime.now(UTC)
    stored = {name: value for name, value in request.items() if name not in ("WorkteamName", "Tags")}
    row = {
        "account_id": ctx.caller.account_id,
        "region": ctx.region,
        "name": request["WorkteamName"],
        "request": stored,
        "created_at": now,
        "last_updated": now,
    }
    arn = workteam_arn(ctx.caller.account_id, ctx.region, request["WorkteamName"])
    try:
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(WORKTEAMS), row)
    except IntegrityError:
        raise resource_in_use(f"Workteam {arn} already exists.") from None
    return {"WorkteamArn": arn}


@sagemaker.operation
def describe_workteam(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    row = find_workteam(ctx.storage, ctx.caller.account_id, ctx.region, request["WorkteamName"])
    if row is None:
        raise _missing(request["WorkteamName"])
    return {"Workteam": _workteam(ctx, row)}


@sagemaker.operation
def list_workteams(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    columns = WORKTEAMS.c
    query = select(WORKTEAMS).where(columns.account_id == ctx.caller.account_id, columns.region == ctx.region)
    if request.get("NameContains"):
        query = query.where(columns.name.contains(request["NameContains"], autoescape=True))
    column = columns.name if request.get("SortBy") == "Name" else columns.created_at  # AWS's default
    query = query.order_by(column.desc() if request.get("SortOrder") == "Descending" else column)
    offset = token_offset(request.get("NextToken"))
    size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query.offset(offset).limit(size + 1)).all()
    output: dict[str, Any] = {"Workteams": [_workteam(ctx, row) for row in rows[:size]]}
    if len(rows) > size:
        output["NextToken"] = offset_token(offset + size)
    return output


@sagemaker.operation
def update_workteam(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    name = request["WorkteamName"]
    row = find_workteam(ctx.storage, ctx.caller.account_id, ctx.region, name)
    if row is None:
        raise _missing(name)
    if "MemberDefinitions" in request:
        _check_members(ctx, request["MemberDefinitions"])
    changed = {**row.request, **{key: value for key, value in request.items() if key != "WorkteamName"}}
    columns = WORKTEAMS.c
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(
            update(WORKTEAMS)
            .where(
                columns.account_id == ctx.caller.account_id,
                columns.region == ctx.region,
                columns.name == name,
            )
            .values(request=changed, last_updated=datetime.now(UTC))
        )
    return describe_workteam(ctx, {"WorkteamName": name})


@sagemaker.operation
def delete_workteam(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Refused (ResourceInUse) while a labelling job that sends tasks to the team is in progress."""
    name = request["WorkteamName"]
    if find_workteam(ctx.storage, ctx.caller.account_id, ctx.region, name) is None:
        raise _missing(name)
    arn = workteam_arn(ctx.caller.account_id, ctx.region, name)
    jobs = LABELING_JOBS.table.c
    columns = WORKTEAMS.c
    with ctx.storage.database.engine.begin() as connection:
        busy = connection.scalar(
            select(jobs.name).where(jobs.workteam_arn == arn, jobs.status.in_(("InProgress", "Stopping")))
        )
        if busy is not None:
            raise resource_in_use(
                f"Workteam {name} is used by the labeling job {busy}, which is in progress."
            )
        connection.execute(
            delete(WORKTEAMS).where(
                columns.account_id == ctx.caller.account_id,
                columns.region == ctx.region,
                columns.name == name,
            )
        )
    return {"Success": True}
