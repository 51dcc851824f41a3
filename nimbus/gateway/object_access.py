"""Nimbus's extension that lets code reading S3 objects in place ask whether its role may: EMR's
Hadoop file system asks it before each open, create, rename, delete and listing, signed (SigV4) with
the step's role credentials, and Nimbus answers as S3 would authorize the call of the same kind:

- ``GET /_nimbus/s3/authorize?action=GetObject&bucket=<b>&key=<k>`` (``PutObject``, ``DeleteObject``
  alike): ``s3:<action>`` on ``arn:aws:s3:::<b>/<k>``.
- ``GET /_nimbus/s3/authorize?action=ListBucket&bucket=<b>[&prefix=<p>][&delimiter=<d>]``:
  ``s3:ListBucket`` on ``arn:aws:s3:::<b>``, with ``s3:prefix`` and ``s3:delimiter``.

200 (``{}``) when allowed; S3's AccessDenied (403), worded as S3 words it, when not.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.types import Receive

from nimbus.errors import AwsError
from nimbus.gateway.authz.context import request_context
from nimbus.gateway.authz.denials import access_denied
from nimbus.gateway.authz.facts import request_facts
from nimbus.gateway.authz.step import Authorizer, Check
from nimbus.gateway.body import read_body
from nimbus.gateway.extension_auth import signed_caller
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.services.registry import Service
from nimbus.storage import Storage

PATH = "/_nimbus/s3/authorize"
OBJECT_ACTIONS = ("GetObject", "PutObject", "DeleteObject")
LIST = "ListBucket"
_LIST_PARAMETERS = {"prefix": "Prefix", "delimiter": "Delimiter"}


def is_object_access(request: HttpRequest) -> bool:
    return request.path == PATH


async def object_access(
    request: HttpRequest, receive: Receive, storage: Storage, s3: Service, authorizer: Authorizer
) -> HttpResponse:
    if request.method != "GET":
        raise AwsError("MethodNotAllowed", f"{PATH} answers GET only.", 405)
    name, s3_request, resource = _asked(request)
    request.body = await read_body(receive, 0)
    signed = signed_caller(request, storage)
    facts = request_facts(request, signed.scope, signed.scope.region)
    action = authorizer.table.action("s3", name)
    assert action is not None  # the four are in AWS's Service Authorization Reference

    def answer() -> None:
        identity = authorizer.identity(signed.credential, signed.signers.session, signed.signers.token)
        context = {**request_context(facts, action, s3_request), **identity.context}
        decision = authorizer.authorize_action(identity, Check(action, resource), context)
        if authorizer.refuses(decision):
            raise access_denied(s3.model, identity.principal.arn, action.full_name, resource, decision)

    await anyio.to_thread.run_sync(answer)
    return HttpResponse(200, {"Content-Type": "application/json"}, b"{}")


def _asked(request: HttpRequest) -> tuple[str, dict[str, Any], str]:
    """The action asked about, the S3 request of the same kind (for its condition keys) and the
    resource's ARN; InvalidArgument (400) for anything else."""
    name, bucket, key = (request.query_value(field) or "" for field in ("action", "bucket", "key"))
    if not bucket:
        raise AwsError("InvalidArgument", "Name the bucket: ?bucket=<name>.", 400)
    if name == LIST:
        listing = {member: request.query_value(field) for field, member in _LIST_PARAMETERS.items()}
        found = {member: value for member, value in listing.items() if value is not None}
        return name, {"Bucket": bucket, **found}, f"arn:aws:s3:::{bucket}"
    if name in OBJECT_ACTIONS and key:
        return name, {"Bucket": bucket, "Key": key}, f"arn:aws:s3:::{bucket}/{key}"
    raise AwsError(
        "InvalidArgument",
        f"Ask about one of {', '.join(OBJECT_ACTIONS)} (with ?key=) or {LIST} (with ?prefix=), not {name!r}.",
        400,
    )
