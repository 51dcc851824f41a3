"""Who makes a request, and whether a policy's Principal element names them.

A role's ARN (``arn:aws:iam::111:role/path/name``) names every session of that role
(``arn:aws:sts::111:assumed-role/name/session``); an account (``111`` or ``arn:aws:iam::111:root``)
names every principal of that account, which still needs its own identity policy to act.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

ROOT, USER, ROLE_SESSION, ANONYMOUS, SERVICE = "root", "user", "role-session", "anonymous", "service"


class PrincipalMatch(Enum):
    NONE = 0
    ACCOUNT = 1  # the statement names the principal's account
    ROLE = 2  # it names the role whose session calls (boundaries and session policies still limit)
    EVERYONE = 3  # "*" (session policies still limit)
    EXACT = 4  # it names the principal itself (its user or its session)


@dataclass(frozen=True)
class Principal:
    kind: str  # ROOT | USER | ROLE_SESSION | ANONYMOUS | SERVICE
    account_id: str
    arn: str  # the caller's ARN as GetCallerIdentity says it; a service's name for SERVICE
    user_id: str = ""  # AIDA... for users, AROA...:session for role sessions, the account for root
    name: str = ""  # user name or role name
    role_arn: str = ""  # for a role session: the role's own ARN (with its path)
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        return self.kind == ROOT


def principal_match(entries: Mapping[str, tuple[str, ...]], principal: Principal) -> PrincipalMatch:
    """How a Principal (or NotPrincipal) element names the caller. Wildcards inside an ARN are not
    wildcards here, as in AWS: only a whole ``*`` means everyone."""
    best = PrincipalMatch.NONE
    for kind, names in entries.items():
        for name in names:
            found = _one(kind, name, principal)
            if found.value > best.value:
                best = found
    return best


def _one(kind: str, name: str, principal: Principal) -> PrincipalMatch:
    if kind == "*" or (kind == "AWS" and name == "*"):
        return PrincipalMatch.EVERYONE
    if kind == "Service":
        return (
            PrincipalMatch.EXACT
            if principal.kind == SERVICE and name == principal.arn
            else PrincipalMatch.NONE
        )
    if kind != "AWS" or principal.kind in (ANONYMOUS, SERVICE):
        return PrincipalMatch.NONE
    if name in (principal.account_id, f"arn:aws:iam::{principal.account_id}:root"):
        return PrincipalMatch.EXACT if principal.is_root else PrincipalMatch.ACCOUNT
    if name == principal.arn:
        return PrincipalMatch.EXACT
    return PrincipalMatch.ROLE if principal.role_arn and name == principal.role_arn else PrincipalMatch.NONE
