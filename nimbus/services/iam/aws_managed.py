"""The AWS managed policies Nimbus knows (``arn:aws:iam::aws:policy/NAME``): AWS's own documents of
the few that people attach to get started. Attaching any other AWS managed policy is NoSuchEntity."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"
CREATED = datetime(2015, 2, 6, 18, 39, 46, tzinfo=UTC)


@dataclass(frozen=True)
class AwsManagedPolicy:
    name: str
    policy_id: str
    description: str
    statements: tuple[dict[str, object], ...]

    @property
    def arn(self) -> str:
        return AWS_POLICY_PREFIX + self.name

    @property
    def document(self) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": list(self.statements)})


_POLICIES = (
    AwsManagedPolicy(
        "AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        "Provides full access to AWS services and resources.",
        ({"Effect": "Allow", "Action": "*", "Resource": "*"},),
    ),
    AwsManagedPolicy(
        "AmazonS3FullAccess",
        "ANPAIFIR6V6BVTRAHWINE",
        "Provides full access to all buckets via the AWS Management Console.",
        ({"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"},),
    ),
    AwsManagedPolicy(
        "AmazonS3ReadOnlyAccess",
        "ANPAIZTJ4DXE7G6AGAE6M",
        "Provides read only access to all buckets via the AWS Management Console.",
        (
            {
                "Effect": "Allow",
                "Action": [
                    "s3:Get*",
                    "s3:List*",
                    "s3:Describe*",
                    "s3-object-lambda:Get*",
                    "s3-object-lambda:List*",
                ],
                "Resource": "*",
            },
        ),
    ),
    AwsManagedPolicy(
        "IAMFullAccess",
        "ANPAI7XKCFMBPM3QQRRVQ",
        "Provides full access to IAM via the AWS Management Console.",
        (
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": [
                    "organizations:DescribeAccount",
                    "organizations:DescribeOrganization",
                    "organizations:DescribeOrganizationalUnit",
                    "organizations:DescribePolicy",
                    "organizations:ListChildren",
                    "organizations:ListParents",
                    "organizations:ListPoliciesForTarget",
                    "organizations:ListRoots",
                    "organizations:ListPolicies",
                    "organizations:ListTargetsForPolicy",
                ],
                "Resource": "*",
            },
        ),
    ),
    AwsManagedPolicy(
        "IAMReadOnlyAccess",
        "ANPAJKSO7NDY4T57MWDSQ",
        "Provides read only access to IAM via the AWS Management Console.",
        (
            {
                "Effect": "Allow",
                "Action": [
                    "iam:GenerateCredentialReport",
                    "iam:Get*",
                    "iam:List*",
                    "iam:SimulateCustomPolicy",
                    "iam:SimulatePrincipalPolicy",
                ],
                "Resource": "*",
            },
        ),
    ),
)
AWS_MANAGED = {policy.arn: policy for policy in _POLICIES}
