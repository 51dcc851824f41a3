"""Nimbus's policy evaluator against an independent one: npm's ``@cloud-copilot/iam-simulate``
(installed in tests/oracle by ``make install-test``, run by Node as a separate process) evaluates the
same Hypothesis-generated requests and policies, and every decision must agree.

The cases cover identity policies, permissions boundaries, session policies and resource policies;
Action/NotAction, Resource/NotResource (wildcards, short ARNs, policy variables with defaults),
Principal/NotPrincipal; every condition operator family with IfExists and the set qualifiers, over
single- and multivalued keys that are present, absent or of the wrong type.

What is compared is the decision: allowed or denied. (Whether a denial is explicit or implicit is
not: where no identity policy allows, the oracle reports "implicit" without looking at the Deny
statements of boundaries and session policies, while AWS's logic, and Nimbus, check every Deny first.)

Where the oracle and AWS's documentation part ways, the cases stay out of the comparison and the
documented behaviour is tested on its own below: the account's root user (AWS: every permission
implicitly; the oracle is given an allow-everything identity policy for it); a resource policy that
names a role session's own ARN (AWS: not limited by the session policy; the oracle limits it);
policy variables in a 2008-10-17 policy (AWS: literal text; the oracle substitutes them); epoch
seconds in Date conditions (the oracle reads milliseconds); an IPv4 condition for an IPv6 caller
(AWS: NotIpAddress matches it); ARNs with fewer than six parts (not documented).

CI runs 1000 cases; ``NIMBUS_ORACLE_EXAMPLES=20000`` (``make bench``) runs more.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nimbus.policy import (
    ALLOWED,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    PolicySet,
    Principal,
    Request,
    evaluate,
    parse_policy,
)
from nimbus.policy.principals import ANONYMOUS, ROLE_SESSION, ROOT, USER

ORACLE_DIR = Path(__file__).resolve().parents[1] / "oracle"
ORACLE_EXAMPLES = int(os.environ.get("NIMBUS_ORACLE_EXAMPLES", "1000"))
ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
ORACLE_RESULTS = {"Allowed": ALLOWED, "ExplicitlyDenied": EXPLICIT_DENY, "ImplicitlyDenied": IMPLICIT_DENY}

ALICE = Principal(USER, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/alice", "AIDAALICE", "alice")
BOB = Principal(USER, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/team/bob", "AIDABOB", "bob")
SESSION = Principal(
    ROLE_SESSION,
    ACCOUNT,
    f"arn:aws:sts::{ACCOUNT}:assumed-role/trainer/job-7",
    "AROATRAINER:job-7",
    "trainer",
    f"arn:aws:iam::{ACCOUNT}:role/ml/trainer",
)
ROOT_USER = Principal(ROOT, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
ANONYMOUS_CALLER = Principal(ANONYMOUS, "", "*")

# (action, resource): the resource is of a type the action acts on, as the oracle checks
TARGETS = [
    ("s3:GetObject", "arn:aws:s3:::data/alice/report.csv"),
    ("s3:GetObject", "arn:aws:s3:::data/shared/a?b.txt"),
    ("s3:PutObject", "arn:aws:s3:::data/bob/model.tar.gz"),
    ("s3:ListBucket", "arn:aws:s3:::data"),
    ("s3:DeleteObject", "arn:aws:s3:::logs/2025/01/app.log"),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/ml/trainer"),
    ("sagemaker:CreateTrainingJob", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/job-7"),
    ("rekognition:DetectLabels", "*"),
]
ACTION_PATTERNS = [
    "*",
    "s3:*",
    "s3:Get*",
    "s3:?etObject",
    "S3:getobject",
    "s3:ListBucket",
    "s3:PutObject",
    "iam:PassRole",
    "iam:*Role",
    "sagemaker:Create*",
    "rekognition:Detect*",
    "ec2:*",
]
RESOURCE_PATTERNS = [
    "*",
    "arn:aws:s3:::data",
    "arn:aws:s3:::data/*",
    "arn:aws:s3:::data/${aws:username}/*",
    "arn:aws:s3:::data/${aws:PrincipalTag/team, 'shared'}/*",
    "arn:aws:s3:::data/shared/a${?}b*",
    "arn:aws:s3:::data/shared/${*}",
    "arn:aws:s3:::*/alice/*",
    "arn:aws:s3:::logs/202?/*",
    "arn:aws:iam::*:role/ml/*",
    f"arn:aws:iam::{ACCOUNT}:role/*",
    "arn:aws:sagemaker:*:*:training-job/*",
    f"arn:aws:sagemaker:us-east-1:{OTHER_ACCOUNT}:training-job/*",
    "arn:aws:s3:::Data/*",
]

# condition keys by type: (key, type, values a request may carry, values a policy may test)
DATES = ["2025-06-01T12:00:00Z", "2024-01-01", "2030-01-01T00:00:00+02:00", "2024-06-01T00:00:00Z", "soon"]
KEYS: list[tuple[str, str, list[Any], list[Any]]] = [
    (
        "aws:username",
        "string",
        ["alice", "bob", "Alice"],
        ["alice", "ALICE", "a*", "b?b", "${aws:username}", ""],
    ),
    (
        "aws:PrincipalTag/team",
        "string",
        ["ml", "data", "ML"],
        ["ml", "M*", "data", "${aws:PrincipalTag/team}"],
    ),
    ("aws:RequestTag/env", "string", ["prod", "dev"], ["prod", "d*", "*"]),
    (
        "aws:PrincipalArn",
        "arn",
        [ALICE.arn, SESSION.role_arn],
        [ALICE.arn, "arn:aws:iam::*:user/*", "arn:aws:iam::*:role/ml/*"],
    ),
    (
        "aws:SourceIp",
        "ip",
        ["10.1.2.3", "192.168.0.9", "172.16.5.4"],
        ["10.0.0.0/8", "192.168.0.9", "10.1.2.3/32", "172.16.0.0/12", "300.1.1.1"],
    ),
    ("aws:CurrentTime", "date", DATES[:4], DATES),
    ("aws:MultiFactorAuthAge", "numeric", ["30", "3600", "86400.5"], ["3600", "30", "1e3", "-1", "x"]),
    ("aws:SecureTransport", "bool", ["true", "false"], [True, False, "true", "FALSE", "yes"]),
    ("aws:TagKeys", "multi", [["env"], ["env", "team"], []], ["env", "team", "e*", "cost"]),
    (
        "aws:PrincipalServiceNamesList",
        "multi",
        [["sagemaker.amazonaws.com"], []],
        ["sagemaker.amazonaws.com", "*.amazonaws.com"],
    ),
]
OPERATORS = {
    "string": [
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
    ],
    "arn": ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "StringLike"],
    "ip": ["IpAddress", "NotIpAddress"],
    "date": [
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
    ],
    "numeric": [
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
    ],
    "bool": ["Bool"],
    "multi": ["StringEquals", "StringLike", "StringNotEquals", "StringNotLike"],
}
RESOURCE_PRINCIPALS: list[Any] = [
    "*",
    {"AWS": "*"},
    {"AWS": ALICE.arn},
    {"AWS": [BOB.arn, ALICE.arn]},
    {"AWS": ACCOUNT},
    {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    {"AWS": SESSION.role_arn},
    {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:user/alice"},
    {"Service": "sagemaker.amazonaws.com"},
]


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 2))):
        key, kind, _, values = draw(st.sampled_from(KEYS))
        if draw(st.integers(0, 9)) == 0:
            operator = "Null"
            value: Any = draw(st.sampled_from([True, False, "true", "false"]))
        else:
            operator = draw(st.sampled_from(OPERATORS[kind]))
            if operator != "Bool" and draw(st.booleans()):
                operator += "IfExists"
            qualifier = draw(
                st.sampled_from(["", "", "ForAllValues:", "ForAnyValue:"] if kind == "multi" else [""])
            )
            operator = qualifier + operator
            value = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True))
            value = value[0] if len(value) == 1 and draw(st.booleans()) else value
        block.setdefault(operator, {})[key] = value
    return block


@st.composite
def statement(draw: st.DrawFn, resource_policy: bool) -> dict[str, Any]:
    effect = draw(st.sampled_from(["Allow", "Allow", "Deny"]))
    found: dict[str, Any] = {"Effect": effect}
    actions = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3, unique=True))
    found["NotAction" if draw(st.integers(0, 5)) == 0 else "Action"] = (
        actions if len(actions) > 1 else actions[0]
    )
    resources = draw(st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2, unique=True))
    found["NotResource" if draw(st.integers(0, 5)) == 0 else "Resource"] = resources
    if resource_policy:
        if effect == "Deny" and draw(st.integers(0, 3)) == 0:
            found["NotPrincipal"] = {"AWS": draw(st.sampled_from([ALICE.arn, BOB.arn, SESSION.arn]))}
        else:
            found["Principal"] = draw(st.sampled_from([*RESOURCE_PRINCIPALS, {"AWS": SESSION.arn}]))
    condition = draw(conditions())
    if condition:
        found["Condition"] = condition
    if draw(st.booleans()):
        found["Sid"] = f"S{draw(st.integers(0, 99))}"
    return found


def policy(resource_policy: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda version, statements: {"Version": version, "Statement": statements},
        st.just("2012-10-17"),
        st.lists(statement(resource_policy), min_size=1, max_size=3),
    )


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    action, resource = draw(st.sampled_from(TARGETS))
    callers = [ALICE, BOB, SESSION, SESSION, ROOT_USER] + ([ANONYMOUS_CALLER] if resource != "*" else [])
    principal = draw(st.sampled_from(callers))
    anonymous = principal.kind == ANONYMOUS
    bounded = principal.kind in (USER, ROLE_SESSION)  # the root user has no permissions boundary
    context: dict[str, Any] = {}
    for key, _kind, values, _ in KEYS:
        if draw(st.booleans()):
            context[key] = draw(st.sampled_from(values))
    case: dict[str, Any] = {
        "action": action,
        "resource": resource,
        "principal": principal,
        "context": context,
        "identity": [] if anonymous else draw(st.lists(policy(), max_size=2)),
        "boundary": draw(policy()) if bounded and draw(st.integers(0, 2)) == 0 else None,
        "session": draw(policy()) if principal.kind == ROLE_SESSION and draw(st.booleans()) else None,
        "resource_policy": draw(policy(resource_policy=True))
        if anonymous or (resource != "*" and draw(st.booleans()))
        else None,
    }
    return case


class Oracle:
    """One Node process answering simulations line by line."""

    def __init__(self) -> None:
        node = shutil.which("node")
        assert node, "Node.js is needed for the policy oracle (make install-test installs it)"
        assert (ORACLE_DIR / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir(), (
            "the oracle is not installed: run `make install-test` (npm ci in tests/oracle)"
        )
        self.process = subprocess.Popen(
            [node, str(ORACLE_DIR / "simulate.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def decide(self, case: dict[str, Any]) -> str:
        principal: Principal = case["principal"]
        identity = [{"name": f"identity{i}", "policy": p} for i, p in enumerate(case["identity"])]
        if principal.kind == ROOT:  # AWS grants the root user everything; the oracle needs a policy for it
            identity.append(
                {
                    "name": "root",
                    "policy": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                    },
                }
            )
        simulation: dict[str, Any] = {
            "request": {
                "principal": {"type": "Anonymous"} if principal.kind == ANONYMOUS else principal.arn,
                "action": case["action"],
                "resource": {"resource": case["resource"], "accountId": ACCOUNT},
                "contextVariables": case["context"],
            },
            "identityPolicies": identity,
            "serviceControlPolicies": [],
            "resourceControlPolicies": [],
        }
        if case["boundary"] is not None:
            simulation["permissionBoundaryPolicies"] = [{"name": "boundary", "policy": case["boundary"]}]
        if case["session"] is not None:
            simulation["sessionPolicy"] = case["session"]
        if case["resource_policy"] is not None:
            simulation["resourcePolicy"] = case["resource_policy"]
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(simulation) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert "result" in answer, f"the oracle refused the case: {answer['error']}\n{json.dumps(simulation)}"
        return ORACLE_RESULTS[answer["result"]]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    running = Oracle()
    yield running
    running.close()


def nimbus_decision(case: dict[str, Any]) -> str:
    context = {
        key.lower(): tuple(value) if isinstance(value, list) else value
        for key, value in case["context"].items()
    }
    policies = PolicySet(
        identity=tuple(parse_policy(p, "identity", f"identity{i}") for i, p in enumerate(case["identity"])),
        boundary=parse_policy(case["boundary"], "identity", "boundary") if case["boundary"] else None,
        session=(parse_policy(case["session"], "identity", "session"),) if case["session"] else None,
        resource=parse_policy(case["resource_policy"], "resource", "resource")
        if case["resource_policy"]
        else None,
    )
    request = Request(case["action"], case["resource"], case["principal"], context, ACCOUNT)
    return evaluate(request, policies).result


def _names_own_session(case: dict[str, Any]) -> bool:
    """A resource policy allowing the role session's own ARN while a session policy applies."""
    document = json.dumps(case["resource_policy"] or {})
    return case["session"] is not None and f'"{SESSION.arn}"' in document


@settings(
    max_examples=ORACLE_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
def test_decisions_agree_with_the_oracle(oracle: Oracle, case: dict[str, Any]) -> None:
    if _names_own_session(case):
        case = {**case, "session": None}
    expected = oracle.decide(case)
    assert (nimbus_decision(case) == ALLOWED) == (expected == ALLOWED), json.dumps(
        {**case, "principal": case["principal"].arn}, indent=1
    )


def test_root_user_needs_no_policy() -> None:
    request = Request("s3:DeleteObject", "arn:aws:s3:::data/x", ROOT_USER, {}, ACCOUNT)
    assert evaluate(request, PolicySet()).allowed
    deny = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}],
        },
        "resource",
        "bucket",
    )
    assert evaluate(request, PolicySet(resource=deny)).result == EXPLICIT_DENY


def _decide(statement: dict[str, Any], context: dict[str, Any], version: str = "2012-10-17") -> bool:
    document = {"Version": version, "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", **statement}]}
    request = Request("s3:GetObject", "arn:aws:s3:::data/alice/x", ALICE, context, ACCOUNT)
    return evaluate(request, PolicySet(identity=(parse_policy(document, "identity", "p"),))).allowed


def test_documented_cases_the_oracle_reads_otherwise() -> None:
    by_name = {"Resource": "arn:aws:s3:::data/${aws:username}/*"}
    assert _decide(by_name, {"aws:username": "alice"})
    assert not _decide(by_name, {"aws:username": "alice"}, version="2008-10-17")  # literal text there
    after_june = {"Resource": "*", "Condition": {"DateGreaterThan": {"aws:CurrentTime": "1717200000"}}}
    assert _decide(after_june, {"aws:currenttime": "2024-06-02T00:00:00Z"})
    assert not _decide(after_june, {"aws:currenttime": "2024-05-30T00:00:00Z"})
    outside = {"Resource": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
    assert _decide(outside, {"aws:sourceip": "2001:db8::1"})
    assert not _decide(outside, {"aws:sourceip": "10.2.3.4"})
    v6 = {"Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}}
    assert _decide(v6, {"aws:sourceip": "2001:db8::1"}) and not _decide(v6, {"aws:sourceip": "10.2.3.4"})


def test_session_arn_grant_is_not_limited_by_the_session_policy() -> None:
    """AWS: a resource policy naming the session's ARN adds its permissions after the session was
    made, so the session policy does not limit them; naming the role's ARN it does."""
    session_policy = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}],
        },
        "identity",
        "session",
    )
    request = Request("s3:GetObject", "arn:aws:s3:::data/x", SESSION, {}, ACCOUNT)
    for principal, allowed in ((SESSION.arn, True), (SESSION.role_arn, False)):
        bucket = parse_policy(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": principal},
                        "Action": "s3:GetObject",
                        "Resource": "*",
                    }
                ],
            },
            "resource",
            "bucket",
        )
        assert evaluate(request, PolicySet(session=(session_policy,), resource=bucket)).allowed is allowed
