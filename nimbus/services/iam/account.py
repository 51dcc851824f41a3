"""GetAccountSummary: how many of each IAM entity the account has, and IAM's quotas."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from nimbus.services.iam import iam
from nimbus.services.iam.access_keys import MAX_KEYS_PER_USER
from nimbus.services.iam.holders import MAX_ATTACHED
from nimbus.services.iam.managed_policies import MAX_VERSIONS
from nimbus.services.iam.records import GROUPS, POLICIES, PROFILES, ROLES, USERS, VERSIONS
from nimbus.services.registry import RequestContext

QUOTAS = {
    "UsersQuota": 5000,
    "GroupsQuota": 300,
    "RolesQuota": 1000,
    "PoliciesQuota": 1500,
    "InstanceProfilesQuota": 1000,
    "GroupsPerUserQuota": 10,
    "AccessKeysPerUserQuota": MAX_KEYS_PER_USER,
    "AttachedPoliciesPerUserQuota": MAX_ATTACHED,
    "AttachedPoliciesPerGroupQuota": MAX_ATTACHED,
    "AttachedPoliciesPerRoleQuota": MAX_ATTACHED,
    "VersionsPerPolicyQuota": MAX_VERSIONS,
    "PolicySizeQuota": 6144,
    "UserPolicySizeQuota": 2048,
    "GroupPolicySizeQuota": 5120,
    "RolePolicySizeQuota": 10240,
    "AssumeRolePolicySizeQuota": 2048,
    "PolicyVersionsInUseQuota": 10000,
    "ServerCertificatesQuota": 20,
    "SigningCertificatesPerUserQuota": 2,
}


@iam.operation
def get_account_summary(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """MFA devices, server certificates, signing certificates and identity providers are always 0:
    Nimbus has none of them."""
    account = ctx.caller.account_id
    with ctx.storage.database.engine.connect() as connection:
        counts = {
            member: connection.execute(select(func.count()).where(table.c.account_id == account)).scalar_one()
            for member, table in (
                ("Users", USERS),
                ("Groups", GROUPS),
                ("Roles", ROLES),
                ("Policies", POLICIES),
                ("InstanceProfiles", PROFILES),
                ("PolicyVersionsInUse", VERSIONS),
            )
        }
    root_keys = [key for key in ctx.storage.credentials.list() if key.is_root and key.status == "Active"]
    summary = {
        **counts,
        **QUOTAS,
        "AccountAccessKeysPresent": int(bool(root_keys)),
        "AccountMFAEnabled": 0,
        "AccountPasswordPresent": 0,
        "AccountSigningCertificatesPresent": 0,
        "MFADevices": 0,
        "MFADevicesInUse": 0,
        "ServerCertificates": 0,
        "Providers": 0,
        "GlobalEndpointTokenVersion": 1,
    }
    return {"SummaryMap": summary}
