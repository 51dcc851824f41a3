"""IAM pages: users (their groups, policies and access keys), groups, roles and customer managed
policies, each policy's document as JSON; attach and detach managed policies.

A new access key's secret is shown once, in the answer to the POST that created it: it is never
put in a cookie or a redirect, and IAM cannot give it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, url

PAGE_SIZE = 100
POLICY_CHOICES = 200  # the managed policies offered in the "attach" form's list
AWS_MANAGED = "arn:aws:iam::aws:policy/"
TRUST_SAGEMAKER = {  # the trust policy the "create role" form starts from
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@dataclass(frozen=True)
class Kind:
    """What IAM calls a user, a group or a role in its operations' names and members."""

    name: str  # user, group, role: the console's path segment and IAM's operation infix
    member: str  # UserName, GroupName, RoleName
    plural: str

    def op(self, client: BaseClient, pattern: str) -> Any:
        """The client method named by ``pattern`` with ``{}`` standing for the kind."""
        return getattr(client, pattern.format(self.name))


KINDS = {
    "users": Kind("user", "UserName", "users"),
    "groups": Kind("group", "GroupName", "groups"),
    "roles": Kind("role", "RoleName", "roles"),
}


def _kind(ctx: ConsoleRequest) -> Kind:
    """The kind the path names; the routes that only users have name none."""
    named = str(ctx.request.path_params.get("kind", "users"))
    if named not in KINDS:
        raise ValueError(f"IAM has no {named!r}: users, groups or roles.")
    return KINDS[named]


def principals(ctx: ConsoleRequest) -> Page:
    kind = _kind(ctx)
    iam = ctx.client("iam")
    found, following = ctx.one_page(
        kind.op(iam, "list_{}s"), kind.plural.capitalize(), "Marker", MaxItems=PAGE_SIZE
    )
    data = {
        "kind": kind.plural,
        "items": found,
        "member": kind.member,
        "next": following,
        "trust": json.dumps(TRUST_SAGEMAKER, indent=2),
    }
    return Page("iam_principals.html", data, title=f"IAM {kind.plural}")


def create_principal(ctx: ConsoleRequest) -> Done:
    kind = _kind(ctx)
    name = ctx.field("name").strip()
    parameters: dict[str, Any] = {kind.member: name}
    if kind.name == "role":
        parameters["AssumeRolePolicyDocument"] = _document(ctx.field("trust"), "The trust policy")
    kind.op(ctx.client("iam"), "create_{}")(**parameters)
    return Done(url(f"/iam/{kind.plural}/{name}"), f"{kind.name.capitalize()} {name} created.")


def delete_principal(ctx: ConsoleRequest) -> Done:
    kind, name = _kind(ctx), ctx.path("name")
    kind.op(ctx.client("iam"), "delete_{}")(**{kind.member: name})
    return Done(url(f"/iam/{kind.plural}"), f"{kind.name.capitalize()} {name} deleted.")


def principal(ctx: ConsoleRequest, new_key: dict[str, Any] | None = None) -> Page:
    kind, name = _kind(ctx), ctx.path("name")
    iam = ctx.client("iam")
    described = kind.op(iam, "get_{}")(**{kind.member: name})
    described.pop("ResponseMetadata", None)
    attached = kind.op(iam, "list_attached_{}_policies")(**{kind.member: name}).get("AttachedPolicies", [])
    inline = {
        policy: kind.op(iam, "get_{}_policy")(**{kind.member: name, "PolicyName": policy})["PolicyDocument"]
        for policy in kind.op(iam, "list_{}_policies")(**{kind.member: name}).get("PolicyNames", [])
    }
    data: dict[str, Any] = {
        "kind": kind.plural,
        "name": name,
        "described": described,
        "attached": attached,
        "inline": inline,
        "choices": _policy_choices(iam),
        "new_key": new_key,
    }
    if kind.name == "user":
        data["keys"] = iam.list_access_keys(UserName=name).get("AccessKeyMetadata", [])
        data["groups"] = iam.list_groups_for_user(UserName=name).get("Groups", [])
        data["all_groups"] = [group["GroupName"] for group in iam.list_groups(MaxItems=PAGE_SIZE)["Groups"]]
    return Page("iam_principal.html", data, title=f"IAM {kind.name} {name}")


def _policy_choices(iam: BaseClient) -> list[str]:
    return [policy["Arn"] for policy in iam.list_policies(Scope="All", MaxItems=POLICY_CHOICES)["Policies"]]


def attach_policy(ctx: ConsoleRequest) -> Done:
    kind, name = _kind(ctx), ctx.path("name")
    arn = ctx.field("policy_arn").strip()
    kind.op(ctx.client("iam"), "attach_{}_policy")(**{kind.member: name, "PolicyArn": arn})
    return Done(url(f"/iam/{kind.plural}/{name}"), f"Attached {arn}.")


def detach_policy(ctx: ConsoleRequest) -> Done:
    kind, name = _kind(ctx), ctx.path("name")
    arn = ctx.field("policy_arn")
    kind.op(ctx.client("iam"), "detach_{}_policy")(**{kind.member: name, "PolicyArn": arn})
    return Done(url(f"/iam/{kind.plural}/{name}"), f"Detached {arn}.")


def put_inline_policy(ctx: ConsoleRequest) -> Done:
    kind, name = _kind(ctx), ctx.path("name")
    policy = ctx.field("policy_name").strip()
    document = _document(ctx.field("document"), "The policy")
    kind.op(ctx.client("iam"), "put_{}_policy")(
        **{kind.member: name, "PolicyName": policy, "PolicyDocument": document}
    )
    return Done(url(f"/iam/{kind.plural}/{name}"), f"Inline policy {policy} saved.")


def delete_inline_policy(ctx: ConsoleRequest) -> Done:
    kind, name = _kind(ctx), ctx.path("name")
    policy = ctx.field("policy_name")
    kind.op(ctx.client("iam"), "delete_{}_policy")(**{kind.member: name, "PolicyName": policy})
    return Done(url(f"/iam/{kind.plural}/{name}"), f"Inline policy {policy} deleted.")


def add_to_group(ctx: ConsoleRequest) -> Done:
    user, group = ctx.path("name"), ctx.field("group")
    ctx.client("iam").add_user_to_group(UserName=user, GroupName=group)
    return Done(url(f"/iam/users/{user}"), f"{user} added to {group}.")


def remove_from_group(ctx: ConsoleRequest) -> Done:
    user, group = ctx.path("name"), ctx.field("group")
    ctx.client("iam").remove_user_from_group(UserName=user, GroupName=group)
    return Done(url(f"/iam/users/{user}"), f"{user} removed from {group}.")


# ---- access keys ----------------------------------------------------------------------------------


def create_access_key(ctx: ConsoleRequest) -> Page:
    """The user's page with the new key and its secret: the only time the secret is shown."""
    created = ctx.client("iam").create_access_key(UserName=ctx.path("name"))["AccessKey"]
    return principal(ctx, new_key=created)


def update_access_key(ctx: ConsoleRequest) -> Done:
    user, key, status = ctx.path("name"), ctx.field("key"), ctx.field("status")
    ctx.client("iam").update_access_key(UserName=user, AccessKeyId=key, Status=status)
    return Done(url(f"/iam/users/{user}"), f"Key {key} is {status.lower()}.")


def delete_access_key(ctx: ConsoleRequest) -> Done:
    user, key = ctx.path("name"), ctx.field("key")
    ctx.client("iam").delete_access_key(UserName=user, AccessKeyId=key)
    return Done(url(f"/iam/users/{user}"), f"Key {key} deleted.")


# ---- managed policies -----------------------------------------------------------------------------


def policies(ctx: ConsoleRequest) -> Page:
    scope = ctx.query("scope", "Local")
    found, following = ctx.one_page(
        ctx.client("iam").list_policies, "Policies", "Marker", Scope=scope, MaxItems=PAGE_SIZE
    )
    data = {"policies": found, "scope": scope, "next": following}
    return Page("iam_policies.html", data, title="IAM policies")


def policy(ctx: ConsoleRequest) -> Page:
    arn = ctx.query("arn")
    iam = ctx.client("iam")
    described = iam.get_policy(PolicyArn=arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=described["DefaultVersionId"])["PolicyVersion"]
    versions = [version]
    if not arn.startswith(AWS_MANAGED):  # Nimbus's IAM lists the versions of the account's policies only
        versions = iam.list_policy_versions(PolicyArn=arn).get("Versions", [])
    data = {"policy": described, "document": version["Document"], "versions": versions}
    return Page("iam_policy.html", data, title=described["PolicyName"])


def create_policy(ctx: ConsoleRequest) -> Done:
    name = ctx.field("name").strip()
    document = _document(ctx.field("document"), "The policy")
    created = ctx.client("iam").create_policy(PolicyName=name, PolicyDocument=document)["Policy"]
    return Done(url("/iam/policy", arn=created["Arn"]), f"Policy {name} created.", {"Arn": created["Arn"]})


def update_policy(ctx: ConsoleRequest) -> Done:
    """A new default version; IAM keeps five, so the oldest non-default one goes first if needed."""
    arn = ctx.field("arn")
    iam = ctx.client("iam")
    document = _document(ctx.field("document"), "The policy")
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    if len(versions) >= 5:
        oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
    created = iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
    version = created["PolicyVersion"]["VersionId"]
    return Done(url("/iam/policy", arn=arn), f"Version {version} is now the default.")


def delete_policy(ctx: ConsoleRequest) -> Done:
    arn = ctx.field("arn")
    ctx.client("iam").delete_policy(PolicyArn=arn)
    return Done(url("/iam/policies"), f"Policy {arn} deleted.")


def _document(text: str, what: str) -> str:
    """A policy document as IAM takes it: JSON text, checked here so a typo says where it is."""
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise ClientError(
            {"Error": {"Code": "MalformedPolicyDocument", "Message": f"{what} is not JSON: {error}"}},
            "console",
        ) from error
    return json.dumps(parsed)


def home(ctx: ConsoleRequest) -> Done:
    return Done(url("/iam/users"))


ROUTES = [
    get("/iam", home),
    get("/iam/policies", policies),
    get("/iam/policy", policy),
    post("/iam/policies/create", create_policy),
    post("/iam/policy/update", update_policy),
    post("/iam/policy/delete", delete_policy),
    get("/iam/{kind}", principals),
    post("/iam/{kind}/create", create_principal),
    get("/iam/{kind}/{name}", principal),
    post("/iam/{kind}/{name}/delete", delete_principal),
    post("/iam/{kind}/{name}/attach", attach_policy),
    post("/iam/{kind}/{name}/detach", detach_policy),
    post("/iam/{kind}/{name}/inline", put_inline_policy),
    post("/iam/{kind}/{name}/inline/delete", delete_inline_policy),
    post("/iam/users/{name}/add-to-group", add_to_group),
    post("/iam/users/{name}/remove-from-group", remove_from_group),
    post("/iam/users/{name}/keys/create", create_access_key),
    post("/iam/users/{name}/keys/update", update_access_key),
    post("/iam/users/{name}/keys/delete", delete_access_key),
]
